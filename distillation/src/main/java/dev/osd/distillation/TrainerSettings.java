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
        return new TrainerSettings(8, 32, 8, 1e-3, 1.0, 0.0, Divergence.forwardKl(), RecordPolicy.ALL_VERIFIED,
                vocab <= 4096 ? 0 : 64, 256, 512, 1024, 512, 0.05, 100, 1, 2);
    }

    public TrainerSettings withDivergence(Divergence d) {
        return new TrainerSettings(interval, maxFresh, replay, learningRate, clipNorm, weightDecay, d, policy, topN,
                freshCapacity, recentCapacity, reservoirCapacity, guardWindow, guardTolerance, saveEvery, seed, steps);
    }

    public TrainerSettings withLearningRate(double lr) {
        return new TrainerSettings(interval, maxFresh, replay, lr, clipNorm, weightDecay, divergence, policy, topN,
                freshCapacity, recentCapacity, reservoirCapacity, guardWindow, guardTolerance, saveEvery, seed, steps);
    }

    public TrainerSettings withPolicy(RecordPolicy p) {
        return new TrainerSettings(interval, maxFresh, replay, learningRate, clipNorm, weightDecay, divergence, p,
                topN, freshCapacity, recentCapacity, reservoirCapacity, guardWindow, guardTolerance, saveEvery, seed, steps);
    }

    public TrainerSettings withInterval(int i, int replayRecords) {
        return new TrainerSettings(i, Math.max(maxFresh, i), replayRecords, learningRate, clipNorm, weightDecay,
                divergence, policy, topN, freshCapacity, recentCapacity, reservoirCapacity, guardWindow, guardTolerance,
                saveEvery, seed, steps);
    }

    public TrainerSettings withGuard(int window, double tolerance) {
        return new TrainerSettings(interval, maxFresh, replay, learningRate, clipNorm, weightDecay, divergence, policy,
                topN, freshCapacity, recentCapacity, reservoirCapacity, window, tolerance, saveEvery, seed, steps);
    }

    public TrainerSettings withSteps(int n) {
        return new TrainerSettings(interval, maxFresh, replay, learningRate, clipNorm, weightDecay, divergence, policy,
                topN, freshCapacity, recentCapacity, reservoirCapacity, guardWindow, guardTolerance, saveEvery, seed, n);
    }

    public TrainerSettings withTopN(int n) {
        return new TrainerSettings(interval, maxFresh, replay, learningRate, clipNorm, weightDecay, divergence, policy,
                n, freshCapacity, recentCapacity, reservoirCapacity, guardWindow, guardTolerance, saveEvery, seed, steps);
    }
}
