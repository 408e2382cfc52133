package dev.osd.workload;

/**
 * A kind of query with a structure of its own (SQL questions, word problems, ...): a deterministic,
 * combinatorially large generator of (prompt, answer) pairs.
 */
public interface QueryClass {

    /** Short stable name, used in traffic files, metrics and routing ("sql", "math", "code", ...). */
    String name();

    /** The example of one seed; the same seed always gives the same example. */
    Example generate(long seed);
}
