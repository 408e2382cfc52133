package dev.osd.workload;

import java.util.ArrayList;
import java.util.List;

/** Natural-language questions over a few table schemas, answered with SQL (like Spider). */
final class SqlQueries implements QueryClass {

    private record Column(String name, boolean numeric, List<String> values) {
    }

    private record Table(String name, List<Column> columns) {
        List<Column> numeric() {
            return columns.stream().filter(Column::numeric).toList();
        }

        String schema() {
            return name + "(" + String.join(", ", columns.stream().map(Column::name).toList()) + ")";
        }
    }

    private static Column num(String name) {
        return new Column(name, true, List.of());
    }

    private static Column text(String name, String... values) {
        return new Column(name, false, List.of(values));
    }

    private static final List<Table> TABLES = List.of(
            new Table("employees", List.of(text("name", "Alice", "Bruno", "Chen", "Dana", "Emil", "Fatima", "Goran"),
                    text("department", "sales", "support", "research", "finance", "legal", "marketing"),
                    num("salary"), num("age"),
                    text("city", "Paris", "Berlin", "Madrid", "Oslo", "Lisbon", "Vienna", "Prague")))
            ,
            new Table("orders", List.of(num("id"), text("customer", "Acme", "Globex", "Initech", "Umbrella", "Hooli"),
                    text("product", "laptop", "phone", "monitor", "keyboard", "printer", "router"),
                    num("quantity"), num("price"), text("status", "shipped", "pending", "cancelled", "returned"))),
            new Table("students", List.of(text("name", "Ana", "Ben", "Carla", "David", "Eva", "Farid", "Greta"),
                    num("grade"), num("score"), text("school", "North", "South", "Lakeside", "Hillview", "Riverside"),
                    num("age"))),
            new Table("products", List.of(text("name", "lamp", "chair", "desk", "sofa", "shelf", "table", "bed"),
                    text("category", "furniture", "lighting", "storage", "outdoor", "kitchen"),
                    num("price"), num("stock"), text("supplier", "Nordic", "Atlas", "Zenith", "Orion", "Vertex"))));

    @Override
    public String name() {
        return "sql";
    }

    @Override
    public Example generate(long seed) {
        Dice d = new Dice(seed);
        Table t = d.pick(TABLES);
        List<String[]> conditions = new ArrayList<>();
        // one numeric condition, sometimes joined by a second of any kind: the space stays far too large to
        // memorise (numbers up to 9999 in every question)
        conditions.add(condition(d, t, d.pick(t.numeric())));
        if (d.chance(0.7)) {
            conditions.add(condition(d, t, d.pick(t.columns())));
        }
        String english = String.join(" and ", conditions.stream().map(c -> c[0]).toList());
        String sql = String.join(" AND ", conditions.stream().map(c -> c[1]).toList());
        Column column = d.pick(t.columns());
        Column measure = d.pick(t.numeric());
        String question;
        String answer;
        switch (d.between(0, 3)) {
            case 0 -> {
                question = "list the " + column.name() + " of " + t.name() + " where " + english;
                answer = "SELECT " + column.name() + " FROM " + t.name() + " WHERE " + sql + ";";
            }
            case 1 -> {
                question = "how many " + t.name() + " have " + english;
                answer = "SELECT COUNT(*) FROM " + t.name() + " WHERE " + sql + ";";
            }
            case 2 -> {
                question = "what is the average " + measure.name() + " of " + t.name() + " where " + english;
                answer = "SELECT AVG(" + measure.name() + ") FROM " + t.name() + " WHERE " + sql + ";";
            }
            default -> {
                int n = d.between(1, 20);
                boolean highest = d.chance(0.5);
                boolean filtered = d.chance(0.5);
                question = "show the " + column.name() + " of the " + n + " " + t.name()
                        + (filtered ? " where " + english : "") + " with the "
                        + (highest ? "highest " : "lowest ") + measure.name();
                answer = "SELECT " + column.name() + " FROM " + t.name() + (filtered ? " WHERE " + sql : "")
                        + " ORDER BY " + measure.name() + (highest ? " DESC" : " ASC") + " LIMIT " + n + ";";
            }
        }
        String prompt = "Schema: " + t.schema() + "\nQuestion: " + question + ".\nSQL:";
        return new Example(name(), prompt, " " + answer);
    }

    private static String[] condition(Dice d, Table t, Column c) {
        if (c.numeric()) {
            int v = d.between(1, c.name().equals("age") || c.name().equals("grade") ? 99 : 9999);
            return switch (d.between(0, 2)) {
                case 0 -> new String[] {c.name() + " is greater than " + v, c.name() + " > " + v};
                case 1 -> new String[] {c.name() + " is less than " + v, c.name() + " < " + v};
                default -> new String[] {c.name() + " is " + v, c.name() + " = " + v};
            };
        }
        String v = d.pick(c.values());
        return d.chance(0.8)
                ? new String[] {c.name() + " is " + v, c.name() + " = '" + v + "'"}
                : new String[] {c.name() + " is not " + v, c.name() + " != '" + v + "'"};
    }
}
