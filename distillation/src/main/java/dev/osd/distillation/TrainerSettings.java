package dev.osd.distillation;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;

/**
 * How one draft is distilled online.
 *
 * @param interval I: an update runs once this many fresh records have arrived (the paper: 8)
 * @param maxFresh most fresh records one update takes (when the trainer lags, the rest wait for the next)
 * @param replay records replayed from the buffer's recent window and reservoir in every update
 * @param learningRate AdamW's step size (the paper: 1e-4, constant)
 * @param clipNorm global gradient norm clipping (0 disables)
 * @param weightDecay AdamW's decoupled weight decay on matrices
 * @param divergence the loss
 * @param policy which verified positions become targets
 * @param topN target distributions keep the top N probabilities and the rest mass; 0 keeps them whole
 * @param freshCapacity untrained records the buffer holds at most
 * @param recentCapacity trained records kept in the recent window
 * @param reservoirCapacity older records kept by reservoir sampling
 * @param guardWindow positions the acceptance guard scores before each judgement (0 disables the guard)
 * @param guardTolerance how far below its predecessor's expected acceptance a version may fall before it is
 *     rolled back
 * @param saveEvery write every n-th version to the checkpoint store (0: only on close)
 * @param seed replay sampling
 * @param steps optimizer steps per update: the first on the fresh records and a replayed sample, each further
 *     one on another replayed sample of the same size (spare training time spent on the buffer)
 */
public record TrainerSettings(int interval, int maxFresh, int replay, double learningRate, double clipNorm,
        double weightDecay, Divergence divergence, RecordPolicy policy, int topN, int freshCapacity,
        int recentCapacity, int reservoirCapacity, int guardWindow, double guardTolerance, int saveEvery, long seed, int steps) {

    public TrainerSettings {
        if (interval < 1 || maxFresh < interval) {
            throw new IllegalArgumentException("interval must be >= 1 and maxFresh >= interval, got " + interval
                    + " and " + maxFresh);
        }
        if (!(learningRate > 0)) {
            throw new IllegalArgumentException("learning rate must be positive, got " + learningRate);
        }
        if (steps < 1) {
            throw new IllegalArgumentException("an update takes at least one step, got " + steps);
        }
        if (replay < 0 || topN < 0 || saveEvery < 0 || guardWindow < 0) {
            throw new IllegalArgumentException("replay, topN, saveEvery and guardWindow must be non-negative");
        }
    }

    /**
     * The defaults: {@code osd.training} of this module's {@code reference.conf}, measured on the embedded models
     * (docs/distillation.md).
     */
    public static TrainerSettings defaults(int vocab) {
        return builder(vocab).build();
    }

    /** A builder holding {@link #defaults} for a draft of {@code vocab} tokens; every field is optional. */
    public static Builder builder(int vocab) {
        return builder(ConfigFactory.defaultReference(), vocab);
    }

    /** A builder holding {@code osd.training} of {@code config} (the defaults under what it sets). */
    public static Builder builder(Config config, int vocab) {
        return new Builder(config.withFallback(ConfigFactory.defaultReference()).getConfig("osd.training"), vocab);
    }

    /** The settings {@code osd.training} of {@code config} sets, for a draft of {@code vocab} tokens. */
    public static TrainerSettings of(Config config, int vocab) {
        return builder(config, vocab).build();
    }

    /** A builder holding these settings, for "the same but" copies. */
    public Builder toBuilder() {
        return builder(0)
                .optInterval(interval)
                .optMaxFresh(maxFresh)
                .optReplay(replay)
                .optLearningRate(learningRate)
                .optClipNorm(clipNorm)
                .optWeightDecay(weightDecay)
                .optDivergence(divergence)
                .optPolicy(policy)
                .optTopN(topN)
                .optFreshCapacity(freshCapacity)
                .optRecentCapacity(recentCapacity)
                .optReservoirCapacity(reservoirCapacity)
                .optGuardWindow(guardWindow)
                .optGuardTolerance(guardTolerance)
                .optSaveEvery(saveEvery)
                .optSeed(seed)
                .optSteps(steps);
    }

    /** Builds {@link TrainerSettings} over the configured ones; {@link #defaults} is an unchanged builder. */
    public static final class Builder {
        private int interval;
        // null: the configured max-fresh, or the interval when that is larger (maxFresh may not be below it)
        private Integer maxFresh;
        private final int maxFreshFloor;
        private int replay;
        private double learningRate;
        private double clipNorm;
        private double weightDecay;
        private Divergence divergence;
        private RecordPolicy policy;
        private int topN;
        private int freshCapacity;
        private int recentCapacity;
        private int reservoirCapacity;
        private int guardWindow;
        private double guardTolerance;
        private int saveEvery;
        private long seed;
        private int steps;

        /** @param c the {@code osd.training} section */
        private Builder(Config c, int vocab) {
            interval = c.getInt("interval");
            maxFreshFloor = c.getInt("max-fresh");
            replay = c.getInt("replay");
            learningRate = c.getDouble("learning-rate");
            clipNorm = c.getDouble("clip-norm");
            weightDecay = c.getDouble("weight-decay");
            divergence = Divergence.parse(c.getString("divergence"));
            policy = RecordPolicy.parse(c.getString("policy"));
            String n = c.getString("top-n");
            topN = n.equals("auto") ? (vocab <= 4096 ? 0 : 64) : c.getInt("top-n");
            freshCapacity = c.getInt("fresh-capacity");
            recentCapacity = c.getInt("recent-capacity");
            reservoirCapacity = c.getInt("reservoir-capacity");
            guardWindow = c.getInt("guard-window");
            guardTolerance = c.getDouble("guard-tolerance");
            saveEvery = c.getInt("save-every");
            seed = c.getLong("seed");
            steps = c.getInt("steps");
        }

        /** Default: osd.training.interval. */
        public Builder optInterval(int interval) {
            this.interval = interval;
            return this;
        }

        /** Default: osd.training.max-fresh, or the interval when that is larger. */
        public Builder optMaxFresh(int maxFresh) {
            this.maxFresh = maxFresh;
            return this;
        }

        /** Default: osd.training.replay. */
        public Builder optReplay(int replay) {
            this.replay = replay;
            return this;
        }

        /** Default: osd.training.learning-rate. */
        public Builder optLearningRate(double learningRate) {
            this.learningRate = learningRate;
            return this;
        }

        /** Default: osd.training.clip-norm. */
        public Builder optClipNorm(double clipNorm) {
            this.clipNorm = clipNorm;
            return this;
        }

        /** Default: osd.training.weight-decay. */
        public Builder optWeightDecay(double weightDecay) {
            this.weightDecay = weightDecay;
            return this;
        }

        /** Default: osd.training.divergence. */
        public Builder optDivergence(Divergence divergence) {
            this.divergence = divergence;
            return this;
        }

        /** Default: osd.training.policy. */
        public Builder optPolicy(RecordPolicy policy) {
            this.policy = policy;
            return this;
        }

        /** Default: osd.training.top-n (auto: 0, whole distributions, up to 4096 tokens, else 64). */
        public Builder optTopN(int topN) {
            this.topN = topN;
            return this;
        }

        /** Default: osd.training.fresh-capacity. */
        public Builder optFreshCapacity(int freshCapacity) {
            this.freshCapacity = freshCapacity;
            return this;
        }

        /** Default: osd.training.recent-capacity. */
        public Builder optRecentCapacity(int recentCapacity) {
            this.recentCapacity = recentCapacity;
            return this;
        }

        /** Default: osd.training.reservoir-capacity. */
        public Builder optReservoirCapacity(int reservoirCapacity) {
            this.reservoirCapacity = reservoirCapacity;
            return this;
        }

        /** Default: osd.training.guard-window. */
        public Builder optGuardWindow(int guardWindow) {
            this.guardWindow = guardWindow;
            return this;
        }

        /** Default: osd.training.guard-tolerance. */
        public Builder optGuardTolerance(double guardTolerance) {
            this.guardTolerance = guardTolerance;
            return this;
        }

        /** Default: osd.training.save-every. */
        public Builder optSaveEvery(int saveEvery) {
            this.saveEvery = saveEvery;
            return this;
        }

        /** Default: osd.training.seed. */
        public Builder optSeed(long seed) {
            this.seed = seed;
            return this;
        }

        /** Default: osd.training.steps. */
        public Builder optSteps(int steps) {
            this.steps = steps;
            return this;
        }

        /** The settings; values out of range are refused as the record refuses them. */
        public TrainerSettings build() {
            return new TrainerSettings(interval, maxFresh == null ? Math.max(maxFreshFloor, interval) : maxFresh, replay,
                    learningRate, clipNorm, weightDecay, divergence, policy, topN, freshCapacity, recentCapacity,
                    reservoirCapacity, guardWindow, guardTolerance, saveEvery, seed, steps);
        }
    }
}
