package dev.osd.routing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.osd.workload.Example;
import dev.osd.workload.QueryClass;
import dev.osd.workload.Workload;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class TrafficClustersTest {

    /** Queries of a kind no workload generator makes: flight status questions. */
    static String flightQuery(SplittableRandom r) {
        List<String> cities = List.of("Lisbon", "Oslo", "Denver", "Nairobi", "Osaka", "Quito", "Perth", "Tunis");
        List<String> airlines = List.of("Skyway", "Northjet", "Bluefin Air", "Condora");
        return "Flight status request. Airline: " + airlines.get(r.nextInt(airlines.size())) + ". Flight number: "
                + (100 + r.nextInt(900)) + ". From " + cities.get(r.nextInt(cities.size())) + " to "
                + cities.get(r.nextInt(cities.size())) + ". Departure gate and delay?";
    }

    @Test
    void eachWorkloadClassFormsItsOwnClusters() {
        TrafficClusters clusters = new TrafficClusters(TrafficClusters.Settings.defaults());
        Map<String, Map<String, Integer>> classesByCluster = new HashMap<>();
        for (int i = 0; i < 60; i++) {
            for (QueryClass c : Workload.CLASSES) {
                Example e = Workload.example(c, Workload.Split.TRAIN, i, 5);
                classesByCluster.computeIfAbsent(clusters.assign(e.prompt()), k -> new HashMap<>())
                        .merge(c.name(), 1, Integer::sum);
            }
        }
        // a cluster holds (almost) one class: the features separate what the classes' texts separate
        int pure = 0;
        int total = 0;
        for (Map<String, Integer> counts : classesByCluster.values()) {
            int sum = counts.values().stream().mapToInt(Integer::intValue).sum();
            pure += counts.values().stream().mapToInt(Integer::intValue).max().orElse(0);
            total += sum;
        }
        assertTrue(pure >= 0.95 * total, "class purity " + pure + " of " + total + ": " + classesByCluster);
        assertTrue(classesByCluster.size() <= 4 * Workload.CLASSES.size(), "clusters: " + classesByCluster.size());
    }

    @Test
    void aNewKindOfTrafficGetsAClusterOfItsOwn() {
        TrafficClusters clusters = new TrafficClusters(TrafficClusters.Settings.defaults());
        for (int i = 0; i < 40; i++) {
            for (QueryClass c : Workload.CLASSES) {
                clusters.assign(Workload.example(c, Workload.Split.TRAIN, i, 5).prompt());
            }
        }
        SplittableRandom r = new SplittableRandom(1);
        Map<String, Integer> flights = new HashMap<>();
        for (int i = 0; i < 50; i++) {
            flights.merge(clusters.assign(flightQuery(r)), 1, Integer::sum);
        }
        int largest = flights.values().stream().mapToInt(Integer::intValue).max().orElse(0);
        assertTrue(largest >= 45, "flight queries spread over " + flights);
        String flightCluster = flights.entrySet().stream().max(Map.Entry.comparingByValue()).orElseThrow().getKey();
        String sqlCluster = clusters.assign(Workload.example(Workload.CLASSES.get(0), Workload.Split.TRAIN, 99, 5)
                .prompt());
        assertNotEquals(flightCluster, sqlCluster);
        assertEquals(flightCluster, clusters.find(flightQuery(r)).orElseThrow());
    }

    @Test
    void memoryIsBoundedAndOwnedClustersStay() {
        TrafficClusters clusters = new TrafficClusters(new TrafficClusters.Settings(4, 0.35, 16, 3));
        String owned = clusters.assign("alpha beta gamma delta");
        clusters.own(owned, "auto-x");
        for (int i = 0; i < 100; i++) {
            clusters.assign("unrelated words number" + i + " token" + (i * 7) + " item" + (i * 13));
        }
        assertEquals(4, clusters.size());
        assertEquals("auto-x", clusters.owner(owned).orElseThrow());
        for (TrafficClusters.Stats s : clusters.stats()) {
            assertTrue(clusters.recentQueries(s.id()).size() <= 3);
        }
        clusters.disown("auto-x");
        assertFalse(clusters.owner(owned).isPresent());
    }

    @Test
    void acceptanceIsAveragedPerDraftOverTheNewestRequests() {
        TrafficClusters clusters = new TrafficClusters(TrafficClusters.Settings.defaults());
        String c = clusters.assign("some query text here");
        for (int i = 0; i < TrafficClusters.WINDOW; i++) {
            clusters.observe(c, "general", 0.2);
        }
        for (int i = 0; i < TrafficClusters.WINDOW; i++) {
            clusters.observe(c, "general", 0.6);
        }
        clusters.observe(c, "general", Double.NaN); // a request without proposals teaches nothing
        TrafficClusters.Stats s = clusters.stats(c).orElseThrow();
        assertEquals(0.6, s.acceptance().get("general"), 1e-9);
        assertEquals(2L * TrafficClusters.WINDOW, s.observed().get("general"));
        assertEquals("general", s.mostlyServedBy());
    }
}
