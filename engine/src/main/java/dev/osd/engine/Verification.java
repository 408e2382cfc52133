package dev.osd.engine;

/**
 * The outcome of verifying one proposal of k draft tokens against the target.
 *
 * @param proposed k, the draft tokens that were scored
 * @param accepted how many leading proposals were accepted (0..k)
 * @param emitted the tokens this round adds: the accepted proposals, then the target's correction after a
 *     rejection or its bonus token after full acceptance (accepted + 1 tokens)
 * @param expectedAcceptance per proposal position, Σ_x min(p(x), q(x)): the probability that position would be
 *     accepted, 1 − TVD(p, q)
 */
public record Verification(int proposed, int accepted, int[] emitted, double[] expectedAcceptance) {

    /** Whether proposal position i (0-based) was accepted. */
    public boolean acceptedAt(int i) {
        return i < accepted;
    }

    /** The token the target chose in place of the first rejected proposal, or the bonus token. */
    public int correction() {
        return emitted[emitted.length - 1];
    }

    public boolean fullyAccepted() {
        return accepted == proposed;
    }
}
