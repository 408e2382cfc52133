package dev.osd.actors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.engine.Engine;
import org.junit.jupiter.api.Test;

class TargetDeviceTest {

    @Test
    void resolvesTheConfiguredDevice() {
        assertEquals(Device.cpu(), TargetDevice.resolve("cpu"));
        boolean gpu = Engine.getInstance().getGpuCount() > 0;
        assertEquals(gpu ? Device.gpu() : Device.cpu(), TargetDevice.resolve("AUTO"));
        if (!gpu) {
            assertTrue(assertThrows(IllegalArgumentException.class, () -> TargetDevice.resolve("gpu")).getMessage()
                    .contains("sees no GPU"));
        }
        assertTrue(assertThrows(IllegalArgumentException.class, () -> TargetDevice.resolve("tpu")).getMessage()
                .contains("auto, cpu or gpu"));
    }
}
