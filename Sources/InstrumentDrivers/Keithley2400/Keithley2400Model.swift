import Domain

/// What one model of the Keithley 2400 series can source, for the run-start checks.
///
/// Maximum source values include the series' 5 % over-range (a 200 V range sources up to 210 V). The 2400's
/// 210 V and 1.05 A, the 2420's 3.15 A and the 2440's 5.25 A are from the 2400 Series manual; the other models'
/// figures are from Keithley's data sheets (20 V for the 2401, 1100 V for the 2410, 60 V / 3 A for the 2420, 100 V /
/// 3 A for the 2425 and 2430, 40 V / 5 A for the 2440) and were not checked against a manual here (ADR 0006).
public struct Keithley2400Model: Sendable, Hashable {
    /// `2400`, `2410`, ... as `*IDN?` names it after `MODEL `.
    public var number: String
    /// The largest voltage compliance it accepts, in volts.
    public var maximumVoltage_V: Double
    /// The largest current it sources, in amperes.
    public var maximumCurrent_A: Double

    /// The models of the series with an RS-232 port.
    public static let known: [Keithley2400Model] = [
        .init(number: "2400", maximumVoltage_V: 210, maximumCurrent_A: 1.05),
        .init(number: "2401", maximumVoltage_V: 21, maximumCurrent_A: 1.05),
        .init(number: "2410", maximumVoltage_V: 1100, maximumCurrent_A: 1.05),
        .init(number: "2420", maximumVoltage_V: 63, maximumCurrent_A: 3.15),
        .init(number: "2425", maximumVoltage_V: 105, maximumCurrent_A: 3.15),
        .init(number: "2430", maximumVoltage_V: 105, maximumCurrent_A: 3.15),
        .init(number: "2440", maximumVoltage_V: 42, maximumCurrent_A: 5.25),
    ]

    /// The model an identity names (`Keithley 2410`), or nil for a compatible instrument of another maker.
    public static func named(in model: String) -> Keithley2400Model? {
        known.first { model.hasSuffix(" " + $0.number) || model == $0.number }
    }

    /// The voltage measurement ranges every model of the series has below 21 V (200 mV, 2 V, 20 V, each with
    /// 5 % over-range) and their resolution: 1 uV on 200 mV, then a factor of ten per range (5 1/2 digits).
    static let voltageRanges: [(fullScale_V: Double, resolution_V: Double)] = [
        (0.21, 1e-6), (2.1, 1e-5), (21, 1e-4),
    ]

    /// The resolution of the range `:SENS:VOLT:RANG limit` selects (the lowest that measures `limit`), or nil above
    /// 21 V, where the models' ranges differ.
    static func voltageResolution_V(forLimit limit_V: Double) -> Double? {
        voltageRanges.first { limit_V <= $0.fullScale_V }?.resolution_V
    }

    /// Refuses limits this model cannot source, naming the rig file's key, the value and what the model allows.
    func check(_ limits: HardwareLimits, describing description: String) -> String? {
        if limits.voltage_V > maximumVoltage_V {
            return "the rig file's limits.voltage (\(formatNumber(limits.voltage_V)) V) is beyond what \(description) "
                + "can hold as voltage compliance; allowed: up to \(formatNumber(maximumVoltage_V)) V"
        }
        if limits.current_A > maximumCurrent_A {
            return "the rig file's limits.current (\(formatNumber(limits.current_A * 1000)) mA) is beyond what "
                + "\(description) can source; allowed: up to \(formatNumber(maximumCurrent_A * 1000)) mA"
        }
        return nil
    }
}
