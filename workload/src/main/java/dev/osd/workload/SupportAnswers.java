package dev.osd.workload;

import java.util.List;

/** Customer-support and personal-finance questions answered in English (like Alpaca-finance). */
final class SupportAnswers implements QueryClass {

    private static final List<String> NAMES = List.of("Maria", "John", "Aisha", "Pedro", "Yuki", "Hannah", "Kofi",
            "Elena", "Raj", "Sofia", "Tariq", "Lucy");
    private static final List<String> PRODUCTS = List.of("savings account", "credit card", "checking account",
            "debit card", "mortgage", "car loan", "brokerage account", "retirement plan");
    private static final List<String[]> ACTIONS = List.of(
            new String[] {"close", "Account settings", "Close account", "5"},
            new String[] {"freeze", "Security", "Freeze now", "1"},
            new String[] {"update the address on", "Profile", "Edit address", "2"},
            new String[] {"change the PIN of", "Security", "Change PIN", "1"},
            new String[] {"add a beneficiary to", "Beneficiaries", "Add beneficiary", "3"},
            new String[] {"download the statement of", "Documents", "Download statement", "1"},
            new String[] {"set up autopay for", "Payments", "Set up autopay", "2"},
            new String[] {"report fraud on", "Security", "Report fraud", "1"});
    private static final List<String> MONTHS = List.of("January", "February", "March", "April", "May", "June",
            "July", "August", "September", "October", "November", "December");

    @Override
    public String name() {
        return "finance";
    }

    @Override
    public Example generate(long seed) {
        Dice d = new Dice(seed);
        String name = d.pick(NAMES);
        String product = d.pick(PRODUCTS);
        if (d.chance(0.5)) {
            String[] a = d.pick(ACTIONS);
            int ending = d.between(1000, 9999);
            String prompt = "Question: Hi, I am " + name + ". How do I " + a[0] + " my " + product + " ending in "
                    + ending + "?\nAnswer:";
            String answer = " Hello " + name + ". To " + a[0] + " your " + product + " ending in " + ending
                    + ", open the " + a[1]
                    + " page in the app and select " + a[2] + ". The change takes effect within " + a[3]
                    + (a[3].equals("1") ? " business day." : " business days.");
            return new Example(name(), prompt, answer);
        }
        int amount = d.between(5, 2000);
        String date = d.pick(MONTHS) + " " + d.between(1, 28);
        String prompt = "Question: Hi, I am " + name + ". My " + product + " was charged " + amount
                + " dollars twice on " + date + ". What should I do?\nAnswer:";
        String answer = " Hello " + name + ". I am sorry about the double charge of " + amount + " dollars on " + date
                + ". Please open a dispute for the second charge in the " + product
                + " section. The refund usually arrives within 5 business days.";
        return new Example(name(), prompt, answer);
    }
}
