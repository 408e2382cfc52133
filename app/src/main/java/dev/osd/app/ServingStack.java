package dev.osd.app;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.osd.actors.DraftWeights;
import dev.osd.actors.ServiceDirectory;
import dev.osd.actors.ServingSystem;
import dev.osd.distillation.DraftTrainer;
import dev.osd.distillation.TrainerSettings;
import dev.osd.drafts.DraftCheckpointStore;
import dev.osd.drafts.DraftVersion;
import dev.osd.drafts.LiveDraft;
import dev.osd.engine.LlamaModel;
import dev.osd.engine.TextTokenizer;
import dev.osd.engine.TokenizerConfig;
import dev.osd.routing.Router;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A one-node serving system over a target and a base draft, as {@code ./osd serve} runs it: one draft per query
 * class of the embedded workload plus a general one, each starting as the base draft (served from the one copy
 * of its weights until the draft's trainer publishes a version of its own) and (when online) learning from the
 * traffic routed to it; with a state directory, each draft resumes from the newest valid version in
 * its checkpoint store and its trainer keeps saving there. Drafts added at run time are made the same way.
 */
public final class ServingStack implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(ServingStack.class);

    /**
     * @param online drafts learn from their traffic (false: they stay the base draft)
     * @param speculate false: no drafts at all (target-only serving)
     * @param state where draft checkpoint stores live (state/drafts/NAME), or null for none
     */
    public record Options(boolean online, boolean speculate, Path state, ServingSystem.Settings settings, Config config,
            Set<String> roles, Consumer<DraftWeights.Received> onReceived) {

        public Options(boolean online, boolean speculate, Path state, ServingSystem.Settings settings, Config config) {
            this(online, speculate, state, settings, config, ServingSystem.ALL_ROLES, null);
        }
    }

    private final ModelPair models;
    private final Options options;
    private final ExecutorService training = DraftTrainer.newTrainingExecutor();
    private final TrainerSettings trainerSettings;
    private final List<ServingSystem.Draft> made = new CopyOnWriteArrayList<>();
    private final ServingSystem system;

    /**
     * The configuration of a cluster member on loopback for nodes in one JVM (the cluster benchmark and test):
     * what every {@code ./osd node} runs with ({@code osd-node.conf}), with Artery on {@code port}, the seed at
     * {@code seed} and these roles.
     */
    public static Config loopbackNode(int port, int seed, Set<String> roles) {
        return ConfigFactory.parseString("""
                pekko.remote.artery.canonical.port = %d
                pekko.cluster.seed-nodes = ["pekko://osd@127.0.0.1:%d"]
                pekko.cluster.roles = [%s]
                # several members in one JVM
                pekko.cluster.jmx.multi-mbeans-in-same-jvm = on
                # a member that a test stops is downed sooner than in production
                pekko.cluster.split-brain-resolver.stable-after = 5s
                """.formatted(port, seed, String.join(",", roles)))
                .withFallback(ConfigFactory.parseResources("osd-node.conf")).withFallback(ConfigFactory.load())
                .resolve();
    }

    /** Over the embedded models (the stack closes them too): what the HTTP tests serve. */
    public static ServingStack embedded(String name, Options options) {
        ModelPair models = ModelPair.open(null, null);
        try {
            ServingStack stack = new ServingStack(name, models, options);
            stack.ownsModels = true;
            return stack;
        } catch (RuntimeException e) {
            models.close();
            throw e;
        }
    }

    /** Over the target and draft in these directories (the stack closes them too). */
    public static ServingStack of(String name, Path model, Path draft, Options options) {
        ModelPair models = ModelPair.open(model, draft);
        try {
            ServingStack stack = new ServingStack(name, models, options);
            stack.ownsModels = true;
            return stack;
        } catch (RuntimeException e) {
            models.close();
            throw e;
        }
    }

    private boolean ownsModels;

    ServingStack(String name, ModelPair models, Options options) {
        this.models = models;
        this.options = options;
        // every setting below comes from one configuration: the caller's, else the default one
        Config config = options.config() != null ? options.config() : ConfigFactory.load();
        this.trainerSettings = TrainerSettings.of(config, models.draft() == null ? 0
                : models.draft().config().vocabSize());
        List<String> names = options.speculate() ? config.getStringList("osd.serve.drafts") : List.of();
        List<ServingSystem.Draft> drafts = new ArrayList<>();
        Set<String> roles = options.roles();
        boolean holdsDrafts = roles.contains("draft") || roles.contains("trainer");
        if (holdsDrafts) {
            for (String d : names) {
                drafts.add(draft(d));
            }
        }
        // traffic clusters and the spawn policy: a cluster the general draft serves poorly gets a draft of its own
        Router router = new Router(Router.rules(config), options.speculate() ? Router.general(config) : null, null, 0,
                Router.clusters(config), Router.spawning(config));
        boolean everything = roles.containsAll(ServingSystem.ALL_ROLES);
        system = ServingSystem.builder().setName(name).setRouter(router).setManager(models.manager())
                .optRoles(roles).optTarget(roles.contains("target") ? models.target() : null)
                .optTargetConfig(models.targetConfig()).optTokenizer(models.tokenizer())
                .optDrafts(drafts).optDraftNames(names).optSettings(options.settings())
                .optDraftFactory(options.speculate() && everything ? new Factory() : null)
                .optConfig(options.config()).optOnVersionReceived(options.onReceived()).start();
    }

    public TextTokenizer tokenizer() {
        return models.tokenizer();
    }

    /** The target checkpoint's tokenizer_config.json (its chat template, BOS / EOS), as the HTTP server uses it. */
    public TokenizerConfig tokenizerConfig() {
        return models.tokenizerConfig();
    }

    public ServingSystem system() {
        return system;
    }

    /**
     * Waits until the gateway lists a target and a replica of every draft, as {@code /health/ready} counts them:
     * on one node, until its model actors have warmed up (they register only then), so that nothing is timed or
     * announced before the first request can run at full speed.
     *
     * @throws IllegalStateException when that does not happen within {@code limit}
     */
    public ServingStack awaitReady(Duration limit) throws InterruptedException {
        long end = System.nanoTime() + limit.toNanos();
        while (true) {
            ServiceDirectory.Readiness r = system.readiness();
            if (r.targets() > 0 && r.draftReplicas().values().stream().allMatch(n -> n > 0)) {
                return this;
            }
            if (System.nanoTime() > end) {
                throw new IllegalStateException("not ready after " + limit.toSeconds() + " s: " + r.targets()
                        + " targets, draft replicas " + r.draftReplicas());
            }
            // the Receptionist's listing reaches the gateway asynchronously: look again shortly
            Thread.sleep(20);
        }
    }

    /** Drafts added at run time: clones of the base draft, or of another draft's weights for a spawned one. */
    private final class Factory implements ServingSystem.DraftFactory {
        @Override
        public ServingSystem.Draft create(String name) {
            return draft(name);
        }

        @Override
        public ServingSystem.Draft create(String name, LlamaModel start) {
            return draft(name, start);
        }

        @Override
        public LlamaModel base() {
            return models.draft();
        }
    }

    /** A draft named {@code name}: its store's newest valid version, else a clone of the base draft (osd.training). */
    private ServingSystem.Draft draft(String name) {
        return draft(name, null);
    }

    /** As {@link #draft(String)}, starting from {@code startFrom}'s weights (null: the base draft's). */
    private ServingSystem.Draft draft(String name, LlamaModel startFrom) {
        DraftCheckpointStore store = options.state() == null ? null
                : new DraftCheckpointStore(options.state().resolve("drafts").resolve(name), name, 5);
        DraftVersion start = null;
        if (store != null) {
            try {
                Optional<DraftCheckpointStore.Stored> stored = store.loadNewest(models.manager());
                if (stored.isPresent()) {
                    start = store.toVersion(stored.get());
                    LOG.info("draft {} resumes at version {} from {}", name, start.version(), store.dir());
                }
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read the checkpoint store " + store.dir(), e);
            }
        }
        if (start == null) {
            // every draft serves the base draft itself until its trainer publishes (the stack closes the base
            // after all drafts); another draft's weights may be freed once the spawn is made: copied
            start = startFrom == null || startFrom == models.draft()
                    ? DraftVersion.sharing(name, 0, -1, models.draft())
                    : new DraftVersion(name, 0, -1, LlamaModel.of(startFrom.weights().copy(models.manager())));
        }
        LiveDraft live = new LiveDraft(start);
        DraftTrainer trainer = options.online() ? new DraftTrainer(live,
                trainerSettings, training, store, models.manager())
                : null;
        ServingSystem.Draft d = new ServingSystem.Draft(name, live, trainer);
        made.add(d);
        return d;
    }

    @Override
    public void close() {
        // retired drafts were closed when they were retired
        Set<String> served = system.drafts().keySet();
        made.removeIf(d -> !served.contains(d.name()));
        system.close();
        for (ServingSystem.Draft d : made) {
            if (d.trainer() != null) {
                d.trainer().close(); // saves the current version to the store
            }
        }
        training.shutdown();
        for (ServingSystem.Draft d : made) {
            d.live().close();
        }
        if (ownsModels) {
            models.close();
        }
    }
}
