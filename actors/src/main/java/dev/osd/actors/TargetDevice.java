package dev.osd.actors;

import ai.djl.Device;
import ai.djl.engine.Engine;
import java.util.Locale;

/**
 * Where the target runs, from configuration ({@code osd.target.device}): {@code cpu}, {@code gpu} (refused
 * with a clear message when the engine sees none: the CPU natives are on the classpath unless the cluster
 * issue's GPU profile swaps them), or {@code auto} (the first GPU when there is one, else the CPU).
 */
public final class TargetDevice {

    private TargetDevice() {
    }

    public static Device resolve(String setting) {
        int gpus = Engine.getInstance().getGpuCount();
        return switch (setting.toLowerCase(Locale.ROOT)) {
            case "cpu" -> Device.cpu();
            case "gpu" -> {
                if (gpus == 0) {
                    throw new IllegalArgumentException("device gpu: the PyTorch engine sees no GPU (these are the CPU "
                            + "natives; use device cpu or auto)");
                }
                yield Device.gpu();
            }
            case "auto" -> gpus > 0 ? Device.gpu() : Device.cpu();
            default -> throw new IllegalArgumentException("unknown device '" + setting + "' (auto, cpu or gpu)");
        };
    }
}
