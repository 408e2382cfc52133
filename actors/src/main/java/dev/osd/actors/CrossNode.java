package dev.osd.actors;

/**
 * Marks every message that may cross actors on different nodes: a record of plain data and actor
 * references, no lambdas and no engine objects (the cluster issue binds a Kryo serializer to it).
 */
public interface CrossNode {
}
