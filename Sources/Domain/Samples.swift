/// One reading as an instrument sent it, on the instrument's own clock, in IUPAC signs.
///
/// `current_A` is positive when the working electrode is stripped (oxidised); `voltage_V` is WE minus CE;
/// `voltageWERE_V` is WE minus RE in a three-electrode cell.
public struct InstrumentSample: Sendable, Hashable, Codable {
    public var time_s: Double
    public var current_A: Double
    public var voltage_V: Double
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

/// A sample placed in its run: sequence number, step and cycle, as stored in the database.
public struct RecordedSample: Sendable, Hashable, Codable {
    /// Position in the run, from 0, without gaps.
    public var seq: Int
    public var sample: InstrumentSample
    public var stepIndex: Int
    public var cycle: Int

    public init(seq: Int, sample: InstrumentSample, stepIndex: Int, cycle: Int) {
        self.seq = seq
        self.sample = sample
        self.stepIndex = stepIndex
        self.cycle = cycle
    }
}
