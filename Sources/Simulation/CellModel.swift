public import Domain

/// What ideal instruments would read from a simulated cell at one moment.
public struct CellReading: Sendable, Hashable {
    public var time_s: Double
    public var current_A: Double
    /// WE minus CE.
    public var voltage_V: Double
    /// WE minus RE, for three-electrode cells.
    public var voltageWERE_V: Double?
    public var pressure_MPa: Double?
    public var temperature_C: Double?

    public init(
        time_s: Double, current_A: Double, voltage_V: Double, voltageWERE_V: Double? = nil,
        pressure_MPa: Double? = nil, temperature_C: Double? = nil
    ) {
        self.time_s = time_s
        self.current_A = current_A
        self.voltage_V = voltage_V
        self.voltageWERE_V = voltageWERE_V
        self.pressure_MPa = pressure_MPa
        self.temperature_C = temperature_C
    }
}

/// A simulated cell: advances in cell time under an applied current and knows the truth about its failures.
///
/// Simulated instruments (in process, or wire-level simulators on pseudo-terminals) drive a `CellModel`; the
/// model never reads a clock, so a run repeats exactly for the same seed and inputs.
public protocol CellModel: Sendable {
    /// Advances the cell by `interval_s` with `current_A` applied (IUPAC; 0 is open circuit) and returns the
    /// reading at the end of the interval.
    mutating func advance(by interval_s: Double, current_A: Double) -> CellReading

    /// The true onsets recorded so far, in time order.
    var groundTruth: [GroundTruthEvent] { get }
}
