package dev.osd.distillation;

import ai.djl.ndarray.NDManager;
import dev.osd.drafts.DraftCheckpointStore;
import dev.osd.drafts.DraftVersion;
import dev.osd.drafts.LiveDraft;
import dev.osd.engine.LlamaConfig;
import dev.osd.engine.LlamaModel;
import dev.osd.engine.SpeculationRound;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Online distillation of one draft: serving threads {@link #offer} what each verification round taught (a
 * cheap copy into the replay buffer, never a wait), and once I fresh records have arrived an update runs on
 * the training executor: fresh records plus replayed ones, one AdamW step, and the new weights published as a
 * new immutable {@link DraftVersion}. An {@link AcceptanceGuard} rolls back a version that serves clearly
 * worse than its predecessor on the same traffic. A failing update is logged and skipped: serving goes on
 * with the version it has.
 */
public final class DraftTrainer implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(DraftTrainer.class);

    /** What a trainer has done so far. */
    public record Stats(String draft, long version, long updates, long rollbacks, long failures, long refused,
            double lastLoss,
            double trainingSeconds, long records, long droppedUntrained, int buffered, boolean paused) {

        public double secondsPerUpdate() {
            return updates == 0 ? 0 : trainingSeconds / updates;
        }
    }

    private final LiveDraft live;
    private final TrainerSettings settings;
    private final Executor executor;
    private final DraftCheckpointStore store;
    private final NDManager manager;
    private final ReplayBuffer buffer;
    private final LlamaConfig config;
    private OnlineDistiller distiller; // made by the first update: a trainer without traffic holds no copy
    private final AcceptanceGuard guard;
    private final AtomicBoolean scheduled = new AtomicBoolean();
    private volatile boolean paused;
    private volatile boolean closed;
    private volatile long updates;
    private volatile long rollbacks;
    private volatile long failures;
    private volatile long refused;
    private volatile double lastLoss = Double.NaN;
    private volatile long trainingNanos;
    private long versionsSinceSave;

    /**
     * @param live the draft to train and publish to
     * @param executor where updates run: the one training thread shared by all trainers of the JVM
     * @param store where versions are saved, or null
     * @param manager parent of the published versions' weights
     */
    public DraftTrainer(LiveDraft live, TrainerSettings settings, Executor executor, DraftCheckpointStore store,
            NDManager manager) {
        this.live = live;
        this.settings = settings;
        this.executor = executor;
        this.store = store;
        this.manager = manager;
        this.buffer = new ReplayBuffer(settings.freshCapacity(), settings.recentCapacity(),
                settings.reservoirCapacity(), settings.seed());
        try (DraftVersion start = live.acquire()) {
            this.config = start.model().config();
        }
        this.guard = new AcceptanceGuard(Math.max(1, settings.guardWindow()), settings.guardTolerance());
    }

    /** The executor every trainer of a JVM shares: one daemon thread, since one gradient collector may be open. */
    public static ExecutorService newTrainingExecutor() {
        return Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "osd-training");
            t.setDaemon(true);
            t.setPriority(Thread.NORM_PRIORITY - 1);
            return t;
        });
    }

    public String draft() {
        return live.name();
    }

    public ReplayBuffer buffer() {
        return buffer;
    }

    /** Records what a round taught; called on the serving path, so it only copies and maybe schedules. */
    public void offer(SpeculationRound round) {
        if (round.context().length > 0) {
            offer(DistillationRecord.of(round, settings.policy(), settings.topN()));
        }
    }

    /**
     * Records a round's record as the target built it (every verified position, {@link RecordPolicy#ALL_VERIFIED},
     * its top N): kept as this trainer's policy and top N say.
     */
    public void offerVerified(DistillationRecord record) {
        offer(record.restrictedTo(settings.policy(), settings.topN()));
    }

    public void offer(DistillationRecord record) {
        if (closed) {
            return;
        }
        String problem = misfit(record);
        if (problem != null) {
            // a record that cannot be trained on would fail every update that replays it: keep it out
            refused++;
            LOG.warn("draft '{}': record refused: {}", live.name(), problem);
            return;
        }
        buffer.add(record);
        maybeSchedule();
    }

    private String misfit(DistillationRecord record) {
        int vocab = config.vocabSize();
        int positions = config.maxPositionEmbeddings();
        if (record.tokens().length > positions) {
            return record.tokens().length + " tokens exceed the draft's " + positions + " positions";
        }
        for (int t : record.tokens()) {
            if (t < 0 || t >= vocab) {
                return "token " + t + " outside the draft's vocabulary of " + vocab;
            }
        }
        for (TargetDistribution t : record.targets()) {
            if (t.full() ? t.probs().length != vocab : Arrays.stream(t.ids()).anyMatch(i -> i < 0 || i >= vocab)) {
                return "target distribution does not cover the draft's vocabulary of " + vocab;
            }
        }
        return null;
    }

    private void maybeSchedule() {
        if (paused || closed || buffer.freshCount() < settings.interval()) {
            return;
        }
        if (scheduled.compareAndSet(false, true)) {
            try {
                executor.execute(this::drain);
            } catch (RejectedExecutionException e) {
                scheduled.set(false);
            }
        }
    }

    private void drain() {
        try {
            while (!paused && !closed && buffer.freshCount() >= settings.interval()) {
                updateOnce();
            }
        } finally {
            scheduled.set(false);
        }
        // records that arrived after the loop's last look
        maybeSchedule();
    }

    private void updateOnce() {
        long t0 = System.nanoTime();
        try {
            List<DistillationRecord> replayed = buffer.sample(settings.replay());
            List<DistillationRecord> fresh = buffer.takeFresh(settings.maxFresh());
            if (settings.guardWindow() > 0 && guardRolledBack(fresh)) {
                return;
            }
            List<DistillationRecord> batch = new ArrayList<>(fresh);
            batch.addAll(replayed);
            lastLoss = distiller().update(batch);
            for (int step = 1; step < settings.steps(); step++) {
                distiller().update(buffer.sample(batch.size()));
            }
            publish(null);
            updates++;
        } catch (RuntimeException | IOException e) {
            failures++;
            LOG.error("draft '{}': update failed, serving continues with version {}", live.name(),
                    live.version(), e);
        } finally {
            trainingNanos += System.nanoTime() - t0;
        }
    }

    private boolean guardRolledBack(List<DistillationRecord> fresh) throws IOException {
        AcceptanceGuard.Verdict verdict;
        try (DraftVersion current = live.acquire()) {
            verdict = guard.observe(current, fresh);
        }
        if (verdict == null || !verdict.rollback()) {
            return false;
        }
        LOG.warn("draft '{}': version {} expects acceptance {} on recent traffic, version {} {}: rolling back",
                live.name(), live.version(), String.format("%.3f", verdict.current()),
                verdict.good().version(), String.format("%.3f", verdict.reference()));
        distiller().restore(verdict.good().model().weights());
        publish("rollback to v" + verdict.good().version());
        try (DraftVersion restored = live.acquire()) {
            guard.restart(restored);
        }
        rollbacks++;
        return true;
    }

    private void publish(String note) throws IOException {
        DraftVersion next = new DraftVersion(live.name(), live.nextVersion(), live.version(),
                LlamaModel.of(distiller().snapshot(manager)));
        live.publish(next);
        versionsSinceSave++;
        if (store != null && (note != null || settings.saveEvery() > 0 && versionsSinceSave >= settings.saveEvery())) {
            save(note);
        }
    }

    private void save(String note) throws IOException {
        try (DraftVersion v = live.acquire()) {
            store.save(v, note);
        }
        versionsSinceSave = 0;
    }

    /**
     * Continues from the draft's current version (which may have arrived from another node's trainer): the
     * optimizer's weights become that version's, on the training thread. A trainer that takes over a draft
     * (a Cluster Singleton moving to another node) calls it before its first update.
     */
    public void resync() {
        executor.execute(() -> {
            if (closed) {
                return;
            }
            try (DraftVersion current = live.acquire()) {
                synchronized (this) {
                    // one not made yet starts from the version current at the first update
                    if (distiller != null) {
                        distiller.restore(current.model().weights());
                    }
                }
                guard.restart(current);
            }
        });
    }

    /** Stops scheduling updates (records still accumulate, up to the buffer's bound). */
    public void pause() {
        paused = true;
    }

    /** Schedules updates again, at once when enough fresh records are waiting. */
    public void resume() {
        paused = false;
        maybeSchedule();
    }

    /** Waits until no update is running or due; for benchmarks and tests. */
    public void awaitIdle() throws InterruptedException {
        while (scheduled.get() || !paused && !closed && buffer.freshCount() >= settings.interval()) {
            Thread.sleep(2);
        }
    }

    public Stats stats() {
        return new Stats(live.name(), live.version(), updates, rollbacks, failures, refused, lastLoss,
                trainingNanos / 1e9, buffer.added(), buffer.droppedUntrained(), buffer.size(), paused);
    }

    /** Finishes the running update, saves the current version if a store is set, frees the trainer. */
    @Override
    public void close() {
        closed = true;
        try {
            // a queued update sees the flag and returns at once; a running one finishes its step
            long deadline = System.nanoTime() + 60_000_000_000L;
            while (scheduled.get() && System.nanoTime() < deadline) {
                Thread.sleep(2);
            }
            if (store != null && updates > 0) {
                save("close");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (IOException e) {
            LOG.error("draft '{}': saving the last version failed", live.name(), e);
        } finally {
            guard.close();
            synchronized (this) {
                if (distiller != null) {
                    distiller.close();
                }
            }
        }
    }

    /**
     * The trainable copy of the draft's weights (and the optimizer's state), made from the current version on
     * the first update: drafts start out serving the one base model, and a draft that is never trained holds
     * no copy of its own.
     */
    private synchronized OnlineDistiller distiller() {
        if (distiller == null) {
            if (closed) {
                throw new IllegalStateException("trainer of draft " + live.name() + " is closed");
            }
            try (DraftVersion current = live.acquire()) {
                distiller = new OnlineDistiller(current.model().weights(), settings.divergence(),
                        settings.learningRate(), settings.clipNorm(), settings.weightDecay());
            }
        }
        return distiller;
    }
}
