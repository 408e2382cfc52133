package dev.osd.drafts;

import dev.osd.engine.DraftSource;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The version of one draft that serves now. Readers {@link #acquire} the current version and hold it for as
 * long as they use it (a request, or one proposal: as a {@link DraftSource} a decoder takes each proposal from
 * the newest version); a trainer {@link #publish}es a new version with one
 * atomic swap, so a reader sees either the old version or the new one, never a mixture, and an old version
 * stays valid until its last reader lets go.
 */
public final class LiveDraft implements DraftSource, AutoCloseable {

    private final String name;
    private final AtomicReference<DraftVersion> current;
    private final AtomicLong lastVersion;

    /** @param base the first version; the live draft takes over the caller's hold on it */
    public LiveDraft(DraftVersion base) {
        this.name = base.draft();
        this.current = new AtomicReference<>(base);
        this.lastVersion = new AtomicLong(base.version());
    }

    public String name() {
        return name;
    }

    /** The current version, held for the caller, who closes it when done. */
    @Override
    public DraftVersion acquire() {
        while (true) {
            DraftVersion v = current.get();
            if (v == null) {
                throw new IllegalStateException("draft " + name + " is closed");
            }
            // a version replaced and freed between get() and retain() cannot be held: read again
            if (v.retain()) {
                return v;
            }
        }
    }

    /** The current version (no hold taken). */
    public long version() {
        DraftVersion v = current.get();
        return v == null ? -1 : v.version();
    }

    /** The version the next published one must carry. */
    public long nextVersion() {
        return lastVersion.get() + 1;
    }

    /**
     * Makes {@code next} the current version; takes over the caller's hold on it and lets go of the live
     * draft's hold on the previous one.
     */
    public void publish(DraftVersion next) {
        if (!next.draft().equals(name)) {
            throw new IllegalArgumentException("version of draft " + next.draft() + " published to " + name);
        }
        long last = lastVersion.get();
        if (next.version() <= last || !lastVersion.compareAndSet(last, next.version())) {
            throw new IllegalArgumentException("draft " + name + " version " + next.version()
                    + " is not newer than version " + last);
        }
        DraftVersion previous = current.getAndSet(next);
        if (previous != null) {
            previous.close();
        }
    }

    @Override
    public void close() {
        DraftVersion last = current.getAndSet(null);
        if (last != null) {
            last.close();
        }
    }
}
