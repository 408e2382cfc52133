package dev.osd.drafts;

import ai.djl.ndarray.NDManager;
import dev.osd.engine.LlamaConfig;
import dev.osd.engine.LlamaModel;
import dev.osd.engine.LlamaWeights;
import java.nio.file.Path;

/** A process that saves draft versions into a store as fast as it can, until it is killed. */
public final class StoreWriter {

    private StoreWriter() {
    }

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[0]);
        // wide enough that one version takes a while to write (about 8 MB)
        LlamaConfig config = LlamaConfig.builder()
                .setHiddenSize(256).setIntermediateSize(1024).setNumHiddenLayers(2).setNumAttentionHeads(4)
                .optNumKeyValueHeads(2).optRmsNormEps(1e-6).setVocabSize(2048).optMaxPositionEmbeddings(64)
                .optBosTokenId(1).optEosTokenId(0).build();
        DraftCheckpointStore store = new DraftCheckpointStore(dir, "killed", 3);
        try (NDManager manager = NDManager.newBaseManager()) {
            for (long v = 1; ; v++) {
                try (DraftVersion version = new DraftVersion("killed", v, v - 1,
                        LlamaModel.of(LlamaWeights.random(config, v, 0.02, manager)))) {
                    store.save(version, null);
                }
                System.out.println("saved " + v);
                System.out.flush();
            }
        }
    }
}
