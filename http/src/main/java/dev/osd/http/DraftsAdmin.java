package dev.osd.http;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import dev.osd.actors.DraftLifecycle;
import dev.osd.actors.ServingMetrics;
import dev.osd.actors.ServingSystem;
import dev.osd.distillation.DraftTrainer;
import dev.osd.routing.RoutingRule;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletionStage;
import java.util.regex.Pattern;

/** {@code /v1/drafts}: the drafts served, their figures and trainers; adding, retiring, pausing, resuming. */
final class DraftsAdmin {

    private static final Pattern NAME = Pattern.compile("[a-z0-9][a-z0-9_-]{0,31}");

    private final ServingSystem system;

    DraftsAdmin(ServingSystem system) {
        this.system = system;
    }

    JsonObject list() {
        long served = 0;
        for (String name : system.draftNames()) {
            served += system.metrics().window(name).total();
        }
        JsonArray data = new JsonArray();
        for (String name : system.draftNames()) {
            data.add(describe(name, served));
        }
        JsonObject o = new JsonObject();
        o.addProperty("object", "list");
        o.add("data", data);
        o.addProperty("requests", system.metrics().served());
        JsonObject traffic = new JsonObject();
        system.metrics().trafficByClass().forEach(traffic::addProperty);
        o.add("requests_by_class", traffic);
        return o;
    }

    /** A draft as this node sees it: its own replica's figures, or (on a gateway) what its requests saw. */
    JsonObject describe(String name, long servedByDrafts) {
        ServingSystem.Draft d = system.drafts().get(name);
        ServingMetrics.Window w = system.metrics().window(name);
        JsonObject o = new JsonObject();
        o.addProperty("name", name);
        o.addProperty("object", "draft");
        o.addProperty("query_class", name);
        o.addProperty("version", d != null ? d.live().version() : w.lastVersion());
        o.addProperty("requests", w.total());
        o.addProperty("traffic_share", servedByDrafts == 0 ? 0.0 : (double) w.total() / servedByDrafts);
        JsonObject acceptance = new JsonObject();
        for (int n : ServingMetrics.WINDOWS) {
            double a = w.acceptance(n);
            if (Double.isNaN(a)) {
                acceptance.add("last_" + n, JsonNull.INSTANCE);
            } else {
                acceptance.addProperty("last_" + n, a);
            }
        }
        o.add("acceptance", acceptance);
        JsonObject trainer = new JsonObject();
        DraftTrainer t = d == null ? null : d.trainer();
        if (d == null) {
            trainer.addProperty("state", "on another node");
        } else if (t == null) {
            trainer.addProperty("state", "none");
        } else {
            DraftTrainer.Stats s = t.stats();
            trainer.addProperty("state", s.paused() ? "paused" : "training");
            trainer.addProperty("updates", s.updates());
            if (!Double.isNaN(s.lastLoss())) {
                trainer.addProperty("last_loss", s.lastLoss());
            }
            trainer.addProperty("rollbacks", s.rollbacks());
            trainer.addProperty("records", s.records());
            trainer.addProperty("buffered", s.buffered());
            trainer.addProperty("dropped_untrained", s.droppedUntrained());
            trainer.addProperty("seconds_per_update", s.secondsPerUpdate());
        }
        o.add("trainer", trainer);
        DraftLifecycle.Spawned spawned = system.spawnedDrafts().get(name);
        if (spawned != null) {
            // a draft the system made for traffic nobody configured: why, and the figures it was decided on
            JsonObject why = new JsonObject();
            why.addProperty("cluster", spawned.cluster());
            why.addProperty("reason", spawned.reason());
            why.addProperty("cluster_acceptance", spawned.clusterAcceptance());
            why.addProperty("specialised_acceptance", spawned.specialisedAcceptance());
            why.addProperty("requests", spawned.requests());
            why.addProperty("served_by", spawned.servedBy());
            why.addProperty("started_from", spawned.startedFrom());
            number(why, "base_expected_acceptance", spawned.baseAcceptance());
            number(why, "served_by_expected_acceptance", spawned.servedByAcceptance());
            why.addProperty("records", spawned.records());
            why.addProperty("at", spawned.at().toString());
            o.add("spawned", why);
        }
        return o;
    }

    private static void number(JsonObject o, String name, double x) {
        if (Double.isNaN(x)) {
            o.add(name, JsonNull.INSTANCE);
        } else {
            o.addProperty(name, x);
        }
    }

    /** POST /v1/drafts {"name", "keywords": [...], "patterns": [...]}: a new draft for a new class. */
    CompletionStage<JsonObject> add(JsonObject body) {
        JsonElement n = body.get("name");
        if (n == null || !n.isJsonPrimitive() || !n.getAsJsonPrimitive().isString()) {
            throw ApiError.invalid("name", "name (a string) is required");
        }
        String name = n.getAsString();
        if (!NAME.matcher(name).matches()) {
            throw ApiError.invalid("name", "name must be 1-32 characters of a-z, 0-9, '-' and '_', starting with a "
                    + "letter or digit; got '" + name + "'");
        }
        if (system.draftNames().contains(name)) {
            throw new ApiError(409, "invalid_request_error", "name", "exists", "draft '" + name + "' exists already",
                    0);
        }
        if (!system.canAddDrafts()) {
            throw ApiError.invalid(null, "this server cannot make new drafts (no base draft)");
        }
        List<String> keywords = strings(body, "keywords");
        List<String> patterns = strings(body, "patterns");
        for (String p : patterns) {
            try {
                RoutingRule.compile(p);
            } catch (IllegalArgumentException e) {
                throw ApiError.invalid("patterns", e.getMessage());
            }
        }
        RoutingRule rule = keywords.isEmpty() && patterns.isEmpty() ? null : RoutingRule.of(name, keywords, patterns);
        return system.addDraft(name, rule).thenApply(d -> describe(d.name(), 0));
    }

    CompletionStage<JsonObject> retire(String name) {
        if (!system.drafts().containsKey(name)) {
            throw ApiError.notFound("name", "unknown draft '" + name + "'");
        }
        return system.retireDraft(name).thenApply(x -> {
            JsonObject o = new JsonObject();
            o.addProperty("name", name);
            o.addProperty("object", "draft");
            o.addProperty("deleted", true);
            return o;
        });
    }

    /** Pauses or resumes one draft's training ({@code name} null: every draft's). */
    CompletionStage<JsonObject> training(String name, boolean paused) {
        if (name != null && !system.draftNames().contains(name)) {
            throw ApiError.notFound("name", "unknown draft '" + name + "'");
        }
        return system.setTraining(name, paused).thenApply(x -> name == null ? list() : describe(name, 0));
    }

    private static List<String> strings(JsonObject body, String field) {
        JsonElement e = body.get(field);
        List<String> out = new ArrayList<>();
        if (e == null || e.isJsonNull()) {
            return out;
        }
        if (!e.isJsonArray()) {
            throw ApiError.invalid(field, field + " must be a list of strings");
        }
        for (JsonElement s : e.getAsJsonArray()) {
            if (!s.isJsonPrimitive() || !s.getAsJsonPrimitive().isString() || s.getAsString().isEmpty()) {
                throw ApiError.invalid(field, field + " must be a list of non-empty strings");
            }
            out.add(s.getAsString());
        }
        return out;
    }
}
