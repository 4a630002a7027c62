public import Domain

/// An instrument that measures impedance spectra: the capability behind a protocol's `impedance:` steps.
///
/// A galvanostat that can also do EIS conforms to both protocols. The measurement blocks until the spectrum is
/// complete and leaves the cell disconnected, as after `openCircuit()`. Point times are on the same instrument
/// clock as the galvanostat's samples, and continue after the latest sample.
public protocol ImpedanceAnalyzer: Actor {
    /// Measures one spectrum with `settings` and returns its points in the order swept.
    func measureImpedance(_ settings: ImpedanceSettings) async throws -> [ImpedancePoint]

    /// Refuses settings the instrument cannot measure (a frequency beyond its range, say), without touching the
    /// instrument, so a run can be refused at its start rather than at its impedance step. Call it after
    /// `identify()`. The default accepts everything.
    func checkImpedance(_ settings: ImpedanceSettings) async throws
}

extension ImpedanceAnalyzer {
    public func checkImpedance(_ settings: ImpedanceSettings) async throws {}
}
