package dev.osd.app;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.Supplier;
import org.apache.pekko.actor.ActorSystem;
import org.apache.pekko.cluster.Cluster;
import org.apache.pekko.cluster.MemberStatus;

/**
 * pekko-management's readiness check on a cluster node ({@code /ready} on the management port): the node is
 * ready once it is an Up member of the cluster. Named in {@code osd-node.conf}; pekko-management makes it
 * with the actor system.
 */
public final class MemberUpCheck implements Supplier<CompletionStage<Boolean>> {

    private final Cluster cluster;

    public MemberUpCheck(ActorSystem system) {
        this.cluster = Cluster.get(system);
    }

    @Override
    public CompletionStage<Boolean> get() {
        return CompletableFuture.completedFuture(cluster.selfMember().status() == MemberStatus.up());
    }
}
