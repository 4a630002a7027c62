import Domain

/// Where a run's records are read from for an export: the daemon's SQLite file (``RunStore``) or the lab's central
/// PostgreSQL database (`FleetSync`). One export code path reads either, so both give the same bytes.
public protocol RunRecordSource: Sendable {
    func run(id: Int64) async throws -> StoredRun?
    /// The protocol a run executed, as recorded at its start.
    func recordedProtocol(runID: Int64) async throws -> RecordedProtocol?
    func steps(runID: Int64) async throws -> [StepRecordRow]
    /// Every impedance point of a run, by step and then in the order swept.
    func spectra(runID: Int64) async throws -> [StoredImpedancePoint]
    /// Visits a run's samples in `seq` order without holding them all.
    func forEachSample(runID: Int64, _ body: (RecordedSample) throws -> Void) async throws
}

extension RunStore: RunRecordSource {}

extension RecordedSample {
    /// A sample from its stored columns: a NULL current or voltage (a non-finite reading, flagged) reads back as NaN.
    public static func stored(
        seq: Int, time_s: Double, current_A: Double?, voltage_V: Double?, voltageWERE_V: Double?,
        pressure_MPa: Double?, temperature_C: Double?, cycle: Int, stepIndex: Int, flags: Int
    ) -> RecordedSample {
        RecordedSample(
            seq: seq,
            sample: InstrumentSample(
                time_s: time_s, current_A: current_A ?? .nan, voltage_V: voltage_V ?? .nan,
                voltageWERE_V: voltageWERE_V, pressure_MPa: pressure_MPa, temperature_C: temperature_C,
                flags: SampleFlags(rawValue: flags)),
            stepIndex: stepIndex, cycle: cycle)
    }
}

extension RecordedProtocol {
    /// The recorded protocol from the JSON texts stored with a run (`protocol_parameters`, `cell`).
    public init(text: String, file: String, parametersJSON: String, cellJSON: String) throws {
        self.init(
            text: text, file: file, parameters: try decodeJSON([String: String].self, from: parametersJSON),
            cell: try decodeJSON(CellDescription.self, from: cellJSON))
    }
}
