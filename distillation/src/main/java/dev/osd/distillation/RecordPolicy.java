package dev.osd.distillation;

/** Which verified positions of a round become distillation targets. */
public enum RecordPolicy {
    /** Only where the target's token replaced the draft's: the correction, or the bonus token (the paper). */
    MISTAKES_ONLY,
    /** Every position the target verified up to and including the correction. */
    ALL_VERIFIED;

    public static RecordPolicy parse(String s) {
        return switch (s.toLowerCase().replace('_', '-')) {
            case "mistakes", "mistakes-only" -> MISTAKES_ONLY;
            case "all", "all-verified" -> ALL_VERIFIED;
            default -> throw new IllegalArgumentException("unknown record policy '" + s + "' (mistakes or all)");
        };
    }
}
