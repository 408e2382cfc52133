package dev.osd.workload;

import java.util.List;

/**
 * Unclassified English text from a small grammar: short stories, descriptions and everyday questions. It is
 * the traffic that matches no class, and the corpus the base draft learns generic language from.
 */
final class GeneralText implements QueryClass {

    private static final List<String> PEOPLE = List.of("the farmer", "a young girl", "the old man", "my uncle",
            "the teacher", "a tired traveler", "the baker", "our neighbor", "the doctor", "a little boy",
            "the captain", "the artist", "a quiet student", "the mayor", "her mother", "his friend");
    private static final List<String> ADJECTIVES = List.of("small", "bright", "quiet", "old", "green", "warm",
            "strange", "busy", "happy", "cold", "beautiful", "dark", "gentle", "heavy", "new", "tall");
    private static final List<String> NOUNS = List.of("house", "river", "garden", "city", "forest", "road", "window",
            "boat", "market", "bridge", "village", "mountain", "kitchen", "library", "train", "field", "song",
            "letter", "dog", "cat", "bird", "tree", "lake", "school");
    private static final List<String> VERBS = List.of("walked to", "looked at", "painted", "visited", "found",
            "cleaned", "watched", "remembered", "built", "opened", "followed", "described", "loved", "left");
    private static final List<String> TIMES = List.of("In the morning", "Later that day", "On Sunday",
            "Every summer", "After dinner", "Long ago", "Yesterday", "At night", "In the spring", "One day");
    private static final List<String> FEELINGS = List.of("glad", "surprised", "calm", "curious", "proud", "sad",
            "excited", "grateful");
    private static final List<String> TOPICS = List.of("sleep", "water", "music", "exercise", "reading",
            "gardening", "cooking", "walking", "friendship", "travel");
    private static final List<String> BENEFITS = List.of("helps the body rest", "keeps the mind clear",
            "makes people feel better", "brings people together", "gives energy for the day",
            "teaches patience", "reduces stress", "builds good habits");

    @Override
    public String name() {
        return "general";
    }

    @Override
    public Example generate(long seed) {
        Dice d = new Dice(seed);
        return switch (d.between(0, 2)) {
            case 0 -> story(d);
            case 1 -> description(d);
            default -> question(d);
        };
    }

    private Example story(Dice d) {
        String who = d.pick(PEOPLE);
        String start = capitalize(d.pick(TIMES)) + " " + who + " " + d.pick(VERBS) + " the " + d.pick(ADJECTIVES)
                + " " + d.pick(NOUNS) + ".";
        StringBuilder rest = new StringBuilder();
        int sentences = d.between(2, 4);
        for (int i = 0; i < sentences; i++) {
            rest.append(' ').append(d.pick(TIMES)).append(", ").append(d.chance(0.5) ? "they" : who).append(' ')
                    .append(d.pick(VERBS)).append(" the ").append(d.pick(ADJECTIVES)).append(' ')
                    .append(d.pick(NOUNS)).append(d.chance(0.4) ? " and felt " + d.pick(FEELINGS) : "").append('.');
        }
        return new Example(null, start, rest.toString());
    }

    private Example description(Dice d) {
        String noun = d.pick(NOUNS);
        String prompt = "The " + noun + " was " + d.pick(ADJECTIVES) + " and " + d.pick(ADJECTIVES) + ".";
        String answer = " Near the " + noun + " there was a " + d.pick(ADJECTIVES) + " " + d.pick(NOUNS)
                + ", and " + d.pick(PEOPLE) + " " + d.pick(VERBS) + " it every day. People said it was the most "
                + d.pick(ADJECTIVES) + " " + noun + " in the " + d.pick(NOUNS) + ".";
        return new Example(null, prompt, answer);
    }

    private Example question(Dice d) {
        String topic = d.pick(TOPICS);
        String prompt = "Question: Why is " + topic + " good for people?\nAnswer:";
        String answer = " Many people enjoy " + topic + " because it " + d.pick(BENEFITS) + ". It also "
                + d.pick(BENEFITS) + ", so " + d.pick(PEOPLE) + " says it is worth a try.";
        return new Example(null, prompt, answer);
    }

    private static String capitalize(String s) {
        return Character.toUpperCase(s.charAt(0)) + s.substring(1);
    }
}
