package dev.osd.distillation;

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
     * The defaults, measured on the embedded models (docs/distillation.md): the paper's I = 8; learning rate
     * 1e-3 rather than the paper's 1e-4 (a 0.45M-parameter draft learning from a few hundred requests gains
     * about half as much at 1e-4); every verified position rather than mistakes only; two steps per update;
     * full distributions for vocabularies up to 4096 tokens, else the top 64.
     */
    public static TrainerSettings defaults(int vocab) {
        return builder(vocab).build();
    }

    /** A builder holding {@link #defaults} for a draft of {@code vocab} tokens; every field is optional. */
    public static Builder builder(int vocab) {
        return new Builder(vocab);
    }

    /** A builder holding these settings, for "the same but" copies. */
    public Builder toBuilder() {
        return new Builder(0)
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

    /** Builds {@link TrainerSettings}; the defaults live here, {@link #defaults} is an unchanged builder. */
    public static final class Builder {
        private int interval = 8;
        // null: 32, or the interval when that is larger (maxFresh may not be below it)
        private Integer maxFresh;
        private int replay = 8;
        private double learningRate = 1e-3;
        private double clipNorm = 1.0;
        private double weightDecay = 0.0;
        private Divergence divergence = Divergence.forwardKl();
        private RecordPolicy policy = RecordPolicy.ALL_VERIFIED;
        private int topN;
        private int freshCapacity = 256;
        private int recentCapacity = 512;
        private int reservoirCapacity = 1024;
        private int guardWindow = 512;
        private double guardTolerance = 0.05;
        private int saveEvery = 100;
        private long seed = 1;
        private int steps = 2;

        private Builder(int vocab) {
            topN = vocab <= 4096 ? 0 : 64;
        }

        /** Default 8. */
        public Builder optInterval(int interval) {
            this.interval = interval;
            return this;
        }

        /** Default 32, or the interval when that is larger. */
        public Builder optMaxFresh(int maxFresh) {
            this.maxFresh = maxFresh;
            return this;
        }

        /** Default 8. */
        public Builder optReplay(int replay) {
            this.replay = replay;
            return this;
        }

        /** Default 1e-3. */
        public Builder optLearningRate(double learningRate) {
            this.learningRate = learningRate;
            return this;
        }

        /** Default 1.0. */
        public Builder optClipNorm(double clipNorm) {
            this.clipNorm = clipNorm;
            return this;
        }

        /** Default 0.0. */
        public Builder optWeightDecay(double weightDecay) {
            this.weightDecay = weightDecay;
            return this;
        }

        /** Default Divergence.forwardKl(). */
        public Builder optDivergence(Divergence divergence) {
            this.divergence = divergence;
            return this;
        }

        /** Default RecordPolicy.ALL_VERIFIED. */
        public Builder optPolicy(RecordPolicy policy) {
            this.policy = policy;
            return this;
        }

        /** Default 0 (whole distributions) for vocabularies up to 4096 tokens, else 64. */
        public Builder optTopN(int topN) {
            this.topN = topN;
            return this;
        }

        /** Default 256. */
        public Builder optFreshCapacity(int freshCapacity) {
            this.freshCapacity = freshCapacity;
            return this;
        }

        /** Default 512. */
        public Builder optRecentCapacity(int recentCapacity) {
            this.recentCapacity = recentCapacity;
            return this;
        }

        /** Default 1024. */
        public Builder optReservoirCapacity(int reservoirCapacity) {
            this.reservoirCapacity = reservoirCapacity;
            return this;
        }

        /** Default 512. */
        public Builder optGuardWindow(int guardWindow) {
            this.guardWindow = guardWindow;
            return this;
        }

        /** Default 0.05. */
        public Builder optGuardTolerance(double guardTolerance) {
            this.guardTolerance = guardTolerance;
            return this;
        }

        /** Default 100. */
        public Builder optSaveEvery(int saveEvery) {
            this.saveEvery = saveEvery;
            return this;
        }

        /** Default 1. */
        public Builder optSeed(long seed) {
            this.seed = seed;
            return this;
        }

        /** Default 2. */
        public Builder optSteps(int steps) {
            this.steps = steps;
            return this;
        }

        /** The settings; values out of range are refused as the record refuses them. */
        public TrainerSettings build() {
            return new TrainerSettings(interval, maxFresh == null ? Math.max(32, interval) : maxFresh, replay,
                    learningRate, clipNorm, weightDecay, divergence, policy, topN, freshCapacity, recentCapacity,
                    reservoirCapacity, guardWindow, guardTolerance, saveEvery, seed, steps);
        }
    }
}
