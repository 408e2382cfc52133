package dev.osd.engine;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * AdamW (Loshchilov and Hutter) with global gradient-norm clipping, written on NDArrays so that its moments
 * can be saved with a checkpoint and a run resumed exactly. Weight decay applies to matrices only, not to
 * norm weights.
 */
public final class AdamW implements AutoCloseable {

    private final double beta1;
    private final double beta2;
    private final double epsilon;
    private final double weightDecay;
    private final NDManager manager;
    private final Map<String, NDArray> first = new LinkedHashMap<>();
    private final Map<String, NDArray> second = new LinkedHashMap<>();
    private long steps;

    public AdamW(NDManager parent, double beta1, double beta2, double epsilon, double weightDecay) {
        this.manager = parent.newSubManager();
        this.beta1 = beta1;
        this.beta2 = beta2;
        this.epsilon = epsilon;
        this.weightDecay = weightDecay;
    }

    public static AdamW withDefaults(NDManager parent, double weightDecay) {
        return new AdamW(parent, 0.9, 0.95, 1e-8, weightDecay);
    }

    public long steps() {
        return steps;
    }

    /**
     * Updates every parameter in place from its gradient.
     *
     * @param clipNorm largest global gradient norm; larger gradients are scaled down (0 disables)
     * @return the global gradient norm before clipping; when it is not finite the update is skipped
     */
    public double step(Map<String, NDArray> parameters, double learningRate, double clipNorm) {
        // grad mode is per thread in PyTorch and on by default in a new thread, where in-place updates of
        // weights that require gradients would be refused: the update itself is never differentiated
        boolean gradMode = JniUtils.isGradMode();
        JniUtils.setGradMode(false);
        try {
            return update(parameters, learningRate, clipNorm);
        } finally {
            JniUtils.setGradMode(gradMode);
        }
    }

    private double update(Map<String, NDArray> parameters, double learningRate, double clipNorm) {
        steps++;
        try (NDManager scope = manager.newSubManager()) {
            double squares = 0;
            Map<String, NDArray> grads = new LinkedHashMap<>();
            for (Map.Entry<String, NDArray> e : parameters.entrySet()) {
                NDArray g = e.getValue().getGradient();
                g.attach(scope);
                grads.put(e.getKey(), g);
                squares += g.square().sum().getFloat();
            }
            double norm = Math.sqrt(squares);
            if (!Double.isFinite(norm)) {
                // a non-finite gradient would poison the moments and every weight: skip this update
                for (NDArray w : parameters.values()) {
                    JniUtils.zeroGrad((PtNDArray) w);
                }
                steps--;
                return norm;
            }
            double scale = clipNorm > 0 && norm > clipNorm ? clipNorm / norm : 1.0;
            double correction1 = 1 - Math.pow(beta1, steps);
            double correction2 = 1 - Math.pow(beta2, steps);
            for (Map.Entry<String, NDArray> e : parameters.entrySet()) {
                String name = e.getKey();
                NDArray w = e.getValue();
                NDArray g = grads.get(name).mul(scale);
                NDArray m = first.computeIfAbsent(name, n -> manager.zeros(w.getShape()));
                NDArray v = second.computeIfAbsent(name, n -> manager.zeros(w.getShape()));
                m.muli(beta1).addi(g.mul(1 - beta1));
                v.muli(beta2).addi(g.square().muli(1 - beta2));
                // results of ops on long-lived arrays belong to those arrays' managers: move them into
                // this step's scope, or every step would leak a few copies of every parameter
                NDArray update = own(m.div(correction1), scope)
                        .divi(own(v.div(correction2), scope).sqrt().addi(epsilon));
                if (weightDecay > 0 && w.getShape().dimension() >= 2) {
                    update.addi(own(w.mul(weightDecay), scope));
                }
                w.subi(update.muli(learningRate));
                // PyTorch accumulates gradients across backward passes; each step starts from zero
                JniUtils.zeroGrad((PtNDArray) w);
            }
            return norm;
        }
    }

    private static NDArray own(NDArray a, NDManager scope) {
        a.attach(scope);
        return a;
    }

    /** Moments and step count as named tensors (for a checkpoint). */
    public Map<String, SafeTensors.Tensor> state() {
        Map<String, SafeTensors.Tensor> s = new LinkedHashMap<>();
        s.put("__steps__", new SafeTensors.Tensor(new long[] {1}, new float[] {steps}));
        for (String name : first.keySet()) {
            s.put("m." + name, new SafeTensors.Tensor(first.get(name).getShape().getShape(),
                    first.get(name).toFloatArray()));
            s.put("v." + name, new SafeTensors.Tensor(second.get(name).getShape().getShape(),
                    second.get(name).toFloatArray()));
        }
        return s;
    }

    /** Restores what {@link #state} saved. */
    public void load(Map<String, SafeTensors.Tensor> state) {
        steps = (long) state.get("__steps__").values()[0];
        for (Map.Entry<String, SafeTensors.Tensor> e : state.entrySet()) {
            String key = e.getKey();
            if (key.startsWith("m.") || key.startsWith("v.")) {
                NDArray a = manager.create(e.getValue().values(), new Shape(e.getValue().shape()));
                (key.startsWith("m.") ? first : second).put(key.substring(2), a);
            }
        }
    }

    @Override
    public void close() {
        manager.close();
    }
}
