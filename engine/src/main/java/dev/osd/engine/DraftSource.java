package dev.osd.engine;

/**
 * Where a decoder gets its draft for each proposal: one fixed model, or the current version of a draft that
 * online training keeps replacing. A decoder holds a lease for one proposal only; when the version it gets
 * differs from the one that filled the request's draft cache, it empties that cache and the next proposal
 * re-reads the sequence with the new weights, so a new version takes over between two proposals of a
 * running request.
 */
public interface DraftSource {

    /** The draft's model for one proposal, held until the lease is closed. */
    Lease acquire();

    /** A held draft version. */
    interface Lease extends AutoCloseable {
        LlamaModel model();

        /** Identifies the weights: equal versions, equal weights. */
        long version();

        @Override
        void close();
    }

    /** A source that always gives the same model (version 0). */
    static DraftSource fixed(LlamaModel model) {
        Lease lease = new Lease() {
            @Override
            public LlamaModel model() {
                return model;
            }

            @Override
            public long version() {
                return 0;
            }

            @Override
            public void close() {
            }
        };
        return () -> lease;
    }
}
