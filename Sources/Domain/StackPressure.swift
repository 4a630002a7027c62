/// Converts a force reading into stack pressure on the pellet: calibration first, then division by the area.
///
/// `pressure_MPa = (scale * force_N + offset_N) / (area_cm2 * 100)`, since 1 MPa = 1 N/mm2 and 1 cm2 = 100 mm2.
public struct StackPressureCalibration: Sendable, Hashable, Codable {
    /// The area the force acts on (the pellet, not the electrode), in cm2.
    public var pelletArea_cm2: Double
    /// Multiplies the sensor's force (from a calibration against a reference load).
    public var scale: Double
    /// Added after scaling, in newtons (for example a preload the sensor does not see).
    public var offset_N: Double

    public init(pelletArea_cm2: Double, scale: Double = 1, offset_N: Double = 0) {
        self.pelletArea_cm2 = pelletArea_cm2
        self.scale = scale
        self.offset_N = offset_N
    }

    /// The stack pressure for a sensor reading.
    public func pressure_MPa(force_N: Double) -> Double {
        (scale * force_N + offset_N) / (pelletArea_cm2 * 100)
    }

    /// The force the sensor should read at `pressure_MPa` (to set up a press).
    public func force_N(pressure_MPa: Double) -> Double {
        (pressure_MPa * pelletArea_cm2 * 100 - offset_N) / scale
    }
}
