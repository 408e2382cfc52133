package dev.osd.workload;

/**
 * One query with its reference answer: the model sees {@code prompt}, a correct completion is {@code answer}.
 *
 * @param queryClass the class that generated it ("sql", "math", ...), or null for unclassified traffic
 */
public record Example(String queryClass, String prompt, String answer) {

    /** The text a language model is trained on: prompt immediately followed by answer. */
    public String text() {
        return prompt + answer;
    }
}
