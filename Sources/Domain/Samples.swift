/// What is odd about one sample. A flagged sample is still stored (a non-finite value as NULL); the flags in
/// ``SampleFlags/unjudged`` keep it out of charge integration and out of the stop criteria.
public struct SampleFlags: OptionSet, Sendable, Hashable, Codable {
    public let rawValue: Int

    public init(rawValue: Int) { self.rawValue = rawValue }

    /// The instrument reported an overload, a compliance limit or a reading outside its range.
    public static let overload = SampleFlags(rawValue: 1 << 0)
    /// A value the instrument sent (current or a voltage) was not a finite number; it is stored as NULL.
    public static let nonFinite = SampleFlags(rawValue: 1 << 1)
    /// Measured under the previous step's output, handed over only after the output changed.
    public static let late = SampleFlags(rawValue: 1 << 2)
    /// The rig measures stack pressure, but no reading belongs to this sample (the sensor did not answer).
    public static let pressureMissing = SampleFlags(rawValue: 1 << 3)
    /// The pressure is an older reading carried over because a new one failed.
    public static let pressureStale = SampleFlags(rawValue: 1 << 4)
    /// The pressure reading is physically implausible (non-finite, or far outside what the sensor can read).
    public static let pressureImplausible = SampleFlags(rawValue: 1 << 5)
    /// The rig has a temperature controller, but no reading belongs to this sample (it did not answer).
    public static let temperatureMissing = SampleFlags(rawValue: 1 << 6)
    /// The temperature is an older reading carried over because a new one failed.
    public static let temperatureStale = SampleFlags(rawValue: 1 << 7)

    /// Flags that keep a sample out of charge integration and out of the criteria's judgement.
    public static let unjudged: SampleFlags = [.overload, .nonFinite, .late]
    /// Flags that keep a sample's pressure out of the stack-pressure guard.
    public static let pressureUnusable: SampleFlags = [.pressureMissing, .pressureStale, .pressureImplausible]
    /// Flags that keep a sample's temperature out of a `wait` step's judgement.
    public static let temperatureUnusable: SampleFlags = [.temperatureMissing, .temperatureStale]

    /// Every flag with the name it has in exports, the API and the docs, in bit order.
    public static let named: [(flag: SampleFlags, name: String)] = [
        (.overload, "overload"), (.nonFinite, "non-finite"), (.late, "late"), (.pressureMissing, "pressure-missing"),
        (.pressureStale, "pressure-stale"), (.pressureImplausible, "pressure-implausible"),
        (.temperatureMissing, "temperature-missing"), (.temperatureStale, "temperature-stale"),
    ]

    /// The names of the flags set, in bit order (`["overload", "late"]`).
    public var names: [String] { Self.named.filter { contains($0.flag) }.map(\.name) }

    /// The flags named, or nil when a name is unknown.
    public init?(names: some Sequence<Substring>) {
        var flags = SampleFlags()
        for name in names {
            guard let known = Self.named.first(where: { $0.name == name }) else { return nil }
            flags.insert(known.flag)
        }
        self = flags
    }
}

/// One reading as an instrument sent it, on the instrument's own clock, in IUPAC signs.
///
/// `current_A` is positive when the working electrode is stripped (oxidised); `voltage_V` is WE minus CE;
/// `voltageWERE_V` is WE minus RE in a three-electrode cell. A value the instrument sent as `nan` stays NaN here
/// with ``SampleFlags/nonFinite`` set; it is stored as NULL.
public struct InstrumentSample: Sendable, Hashable, Codable {
    public var time_s: Double
    public var current_A: Double
    public var voltage_V: Double
    public var voltageWERE_V: Double?
    public var pressure_MPa: Double?
    public var temperature_C: Double?
    public var flags: SampleFlags

    public init(
        time_s: Double, current_A: Double, voltage_V: Double, voltageWERE_V: Double? = nil,
        pressure_MPa: Double? = nil, temperature_C: Double? = nil, flags: SampleFlags = []
    ) {
        self.time_s = time_s
        self.current_A = current_A
        self.voltage_V = voltage_V
        self.voltageWERE_V = voltageWERE_V
        self.pressure_MPa = pressure_MPa
        self.temperature_C = temperature_C
        self.flags = flags
    }

    /// Whether the charge integration and the criteria may use this sample.
    public var isJudged: Bool { flags.isDisjoint(with: .unjudged) }

    /// This sample with ``SampleFlags/nonFinite`` set when its current or a voltage is not finite.
    public func flaggingNonFiniteValues() -> InstrumentSample {
        var flagged = self
        if !current_A.isFinite || !voltage_V.isFinite || !(voltageWERE_V?.isFinite ?? true) {
            flagged.flags.insert(.nonFinite)
        }
        return flagged
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
