package dev.osd.actors;

import org.apache.pekko.actor.NoSerializationVerificationNeeded;

/**
 * A message that never leaves its JVM (it carries callbacks, futures or model objects, or an actor sends it to
 * itself): exempt from serialization, and from the check that {@code serialize-messages = on} makes in tests.
 */
public interface LocalOnly extends NoSerializationVerificationNeeded {
}
