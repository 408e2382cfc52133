package dev.osd.actors;

/**
 * A {@link Problem} as the failure of a future: what a submission, or a draft's addition or retirement, fails
 * with when it is refused before any result exists.
 */
public final class ProblemException extends RuntimeException {

    private final transient Problem problem;

    public ProblemException(Problem problem) {
        super(problem.message(), null, false, false);
        this.problem = problem;
    }

    public Problem problem() {
        return problem;
    }
}
