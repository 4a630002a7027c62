import Domain

/// Writes samples as CSV rows that ``SampleCSVReader`` reads back exactly.
///
/// Numbers are Swift's shortest text that reads back as the same double (`description`); a value the instrument
/// sent as non-finite is an empty field (the sample's `non-finite` flag says why); `flags` holds the sample's flag
/// names joined by `|`, empty when there are none.
public struct SampleCSVWriter: Sendable {
    public static let columns = [
        "seq", "time_s", "current_A", "voltage_V", "voltage_we_re_V", "pressure_MPa", "temperature_C", "cycle", "step",
        "flags",
    ]

    public init() {}

    public var headerLine: String { Self.columns.joined(separator: ",") + "\n" }

    public func row(for recorded: RecordedSample) -> String {
        let sample = recorded.sample
        let fields: [String] = [
            String(recorded.seq), number(sample.time_s), number(sample.current_A), number(sample.voltage_V),
            number(sample.voltageWERE_V), number(sample.pressure_MPa), number(sample.temperature_C),
            String(recorded.cycle), String(recorded.stepIndex), sample.flags.names.joined(separator: "|"),
        ]
        return fields.joined(separator: ",") + "\n"
    }

    private func number(_ value: Double?) -> String {
        guard let value, value.isFinite else { return "" }
        return value.description
    }
}

/// Writes samples in the Battery Data Format (BDF, Battery Data Alliance): a CSV whose header holds the BDF
/// preferred labels in `Quantity / Unit` form, in fixed SI units, one cell per file.
///
/// Required columns: `Test Time / s` (cell time, which starts at 0 with the run), `Voltage / V`, `Current / A` (cellrig's
/// IUPAC sign: positive strips the working electrode). Recommended: `Cycle Count / 1`, `Step Count / 1` (the step
/// index from 1, increasing). Optional: `Applied Pressure / Pa` (stack pressure), `Ambient Temperature / degC`.
/// Not a BDF label: `Working Electrode Potential vs Reference / V` (WE-RE of a three-electrode cell), kept in the
/// same `Quantity / Unit` form. `Unix Time / s` is left out: samples carry the instrument's clock, not wall time.
public struct BDFWriter: Sendable {
    public static let columns = [
        "Test Time / s", "Voltage / V", "Current / A", "Cycle Count / 1", "Step Count / 1", "Applied Pressure / Pa",
        "Ambient Temperature / degC", "Working Electrode Potential vs Reference / V",
    ]

    /// Subtracted from every sample time (0: cell time is already the time since the run started).
    public let origin_s: Double

    public init(origin_s: Double = 0) {
        self.origin_s = origin_s
    }

    public var headerLine: String { Self.columns.joined(separator: ",") + "\n" }

    public func row(for recorded: RecordedSample) -> String {
        let sample = recorded.sample
        let fields: [String] = [
            number(sample.time_s - origin_s), number(sample.voltage_V), number(sample.current_A),
            String(recorded.cycle), String(recorded.stepIndex + 1), number(sample.pressure_MPa.map { $0 * 1e6 }),
            number(sample.temperature_C), number(sample.voltageWERE_V),
        ]
        return fields.joined(separator: ",") + "\n"
    }

    private func number(_ value: Double?) -> String {
        guard let value, value.isFinite else { return "" }
        return value.description
    }
}
