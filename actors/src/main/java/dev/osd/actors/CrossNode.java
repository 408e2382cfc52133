package dev.osd.actors;

/**
 * Marks every message that may cross actors on different nodes: a record of plain data and actor
 * references, no lambdas and no engine objects. reference.conf binds {@link KryoSerializer} to it, and each
 * such class has its id in {@link CrossNodeClasses}.
 */
public interface CrossNode {
}
