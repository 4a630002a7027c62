public import Domain

/// What ideal instruments would read from a simulated cell at one moment: the same fields, units and signs as a
/// real instrument's sample, so a simulated galvanostat hands it on unchanged (after its compliance clip).
public typealias CellReading = InstrumentSample

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
