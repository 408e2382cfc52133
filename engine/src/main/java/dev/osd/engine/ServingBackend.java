package dev.osd.engine;

import java.util.Locale;

/**
 * Which forward serves a model: {@link #CPU}, the JDK Vector API forward over paged caches in Java memory
 * (the fastest on CPUs, see docs/engine.md), or {@link #DJL}, the fused PyTorch forward (for GPU targets).
 * Chosen once per JVM with {@code -Dosd.engine.forward=cpu|djl}; the CPU forward needs
 * {@code --add-modules jdk.incubator.vector}, and without that module the DJL forward serves.
 */
public enum ServingBackend {
    CPU,
    DJL;

    private static final ServingBackend DEFAULT = chooseDefault();

    /** The backend of this JVM. */
    public static ServingBackend current() {
        return DEFAULT;
    }

    static boolean vectorApiPresent() {
        return ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent();
    }

    private static ServingBackend chooseDefault() {
        String chosen = System.getProperty("osd.engine.forward", "").trim().toLowerCase(Locale.ROOT);
        switch (chosen) {
            case "djl":
                return DJL;
            case "cpu":
                if (!vectorApiPresent()) {
                    throw new IllegalStateException("osd.engine.forward=cpu needs the JVM option "
                            + "--add-modules jdk.incubator.vector");
                }
                return CPU;
            case "":
                if (vectorApiPresent()) {
                    return CPU;
                }
                System.getLogger("dev.osd.engine").log(System.Logger.Level.WARNING, "the JDK Vector API is "
                        + "not enabled (--add-modules jdk.incubator.vector): serving with the slower DJL forward");
                return DJL;
            default:
                throw new IllegalArgumentException("osd.engine.forward must be cpu or djl, was '" + chosen + "'");
        }
    }
}
