import Domain

/// What one MethodSCRIPT device can do, as far as the run-start checks need it, keyed by the device id its `t`
/// reply starts with.
///
/// Figures from `shared/research/serial-protocols.md` §2.1.1 and the range tables of §2.1.6: potential ranges
/// (EmStat4 LR +/-3 V, HR +/-6 V, Nexus +/-10 V, Pico -1.7 to +2.0 V) are from secondary sources citing the
/// vendor's specifications; the largest current ranges (LR 10 mA, HR 100 mA, Nexus 1 A, Pico 5 mA) are from the
/// vendor's range tables; the highest impedance frequencies (EmStat4 and Pico 200 kHz [secondary], Nexus 1 MHz
/// [vendor sheet, unconfirmed]) likewise. None was checked on an instrument (ADR 0006).
public struct MethodScriptModel: Sendable, Hashable {
    /// Six characters: `es4_hr`, `es4_lr`, `nexus1`, `espico`, ...
    public var deviceID: String
    /// The model as recorded in the run's instruments (`PalmSens EmStat4 HR`).
    public var name: String
    /// The largest symmetric voltage window (+/- this) its potential range allows.
    public var potentialLimit_V: Double
    /// Its largest current range.
    public var largestCurrent_A: Double
    /// Whether it has a galvanostatic mode (EmStat Pico and Sensit do not).
    public var galvanostatic: Bool
    /// The highest frequency of its impedance measurements.
    public var highestImpedanceFrequency_Hz: Double

    public static let known: [MethodScriptModel] = [
        .init(
            deviceID: "es4_lr", name: "PalmSens EmStat4 LR", potentialLimit_V: 3, largestCurrent_A: 0.01,
            galvanostatic: true, highestImpedanceFrequency_Hz: 2e5),
        .init(
            deviceID: "es4_hr", name: "PalmSens EmStat4 HR", potentialLimit_V: 6, largestCurrent_A: 0.1,
            galvanostatic: true, highestImpedanceFrequency_Hz: 2e5),
        .init(
            deviceID: "mes4lr", name: "PalmSens MultiEmStat4 LR", potentialLimit_V: 3, largestCurrent_A: 0.01,
            galvanostatic: true, highestImpedanceFrequency_Hz: 2e5),
        .init(
            deviceID: "mes4hr", name: "PalmSens MultiEmStat4 HR", potentialLimit_V: 6, largestCurrent_A: 0.1,
            galvanostatic: true, highestImpedanceFrequency_Hz: 2e5),
        .init(
            deviceID: "nexus1", name: "PalmSens Nexus", potentialLimit_V: 10, largestCurrent_A: 1,
            galvanostatic: true, highestImpedanceFrequency_Hz: 1e6),
        .init(
            deviceID: "espico", name: "PalmSens EmStat Pico", potentialLimit_V: 1.7, largestCurrent_A: 0.005,
            galvanostatic: false, highestImpedanceFrequency_Hz: 2e5),
        .init(
            deviceID: "senswb", name: "PalmSens Sensit Wearable", potentialLimit_V: 1.7, largestCurrent_A: 0.005,
            galvanostatic: false, highestImpedanceFrequency_Hz: 2e5),
    ]

    /// The device with this id, or nil for one not in the table.
    public static func identified(by deviceID: String) -> MethodScriptModel? {
        known.first { $0.deviceID == deviceID }
    }

    /// The model an identity names, or nil.
    public static func named(_ model: String) -> MethodScriptModel? {
        known.first { $0.name == model }
    }

    /// The recorded model name for a device id (`MethodSCRIPT device xyz123` for an unknown one).
    static func modelName(deviceID: String) -> String {
        identified(by: deviceID)?.name ?? "MethodSCRIPT device \(deviceID)"
    }

    /// Why this device cannot hold the rig's limits, naming the rig file's key, the value and what is allowed;
    /// nil when it can.
    func refusal(of limits: HardwareLimits) -> String? {
        if limits.voltage_V > potentialLimit_V {
            return "the rig file's limits.voltage (\(formatNumber(limits.voltage_V)) V) is beyond the \(name)'s "
                + "potential range; allowed: up to \(formatNumber(potentialLimit_V)) V"
        }
        if limits.current_A > largestCurrent_A {
            return "the rig file's limits.current (\(formatNumber(limits.current_A * 1000)) mA) is beyond the "
                + "\(name)'s largest current range; allowed: up to \(formatNumber(largestCurrent_A * 1000)) mA"
        }
        return nil
    }

    /// Why this device cannot measure the spectrum, naming the step's frequency and the allowed range; nil when
    /// it can.
    func refusal(of settings: ImpedanceSettings) -> String? {
        guard settings.maximumFrequency_Hz > highestImpedanceFrequency_Hz else { return nil }
        return "the impedance step's highest frequency (\(formatNumber(settings.maximumFrequency_Hz)) Hz) is "
            + "beyond the \(name)'s range; allowed: up to \(formatNumber(highestImpedanceFrequency_Hz)) Hz"
    }
}
