import Domain

/// The seed-004 short rule: within a plating step, |V| falls by a set amount below its running extreme.
///
/// Simple and comparable with published numbers, but blind to nucleation overshoots and relaxation after
/// current steps (both make |V| fall by themselves); `ignore-first` skips the start of each watched step.
public struct VoltageDropCriterion: StopCriterion {
    /// Which steps are watched.
    public enum Watch: String, Sendable {
        case plate
        case strip
        case both
    }

    public let name = "voltage-drop"
    public let detectsShort = true
    public let drop_V: Double
    public let during: Watch
    public let ignoreFirst_s: Double
    /// `stop` (the seed's use) or `warn` (record only, reported once per step).
    public let action: VerdictAction

    private var watching = false
    private var reportedInStep = false
    private var extreme: (magnitude_V: Double, time_s: Double)?
    /// Time of the latest sample still within half the threshold of the extreme: the fall began after it.
    private var lastNearExtreme_s: Double?

    public init(drop_V: Double, during: Watch, ignoreFirst_s: Double, action: VerdictAction = .stop) {
        self.drop_V = drop_V
        self.during = during
        self.ignoreFirst_s = ignoreFirst_s
        self.action = action
    }

    public mutating func stepStarted(_ context: StepContext) {
        extreme = nil
        reportedInStep = false
        lastNearExtreme_s = nil
        let current = context.step.current_A
        switch during {
        case .plate: watching = current < 0
        case .strip: watching = current > 0
        case .both: watching = current != 0
        }
    }

    public mutating func evaluate(_ sample: InstrumentSample, context: StepContext) -> Verdict? {
        guard watching, context.elapsed_s >= ignoreFirst_s else { return nil }
        let magnitude = abs(sample.voltage_V)
        guard let running = extreme, magnitude <= running.magnitude_V else {
            extreme = (magnitude, sample.time_s)
            lastNearExtreme_s = sample.time_s
            return nil
        }
        let fall = running.magnitude_V - magnitude
        if fall <= drop_V / 2 { lastNearExtreme_s = sample.time_s }
        guard fall >= drop_V, !(action == .warn && reportedInStep) else { return nil }
        reportedInStep = true
        return Verdict(
            criterion: name, action: action,
            reason: "|V| fell \(formatNumber(fall * 1e3, significantDigits: 3)) mV below its running extreme of "
                + "\(formatNumber(running.magnitude_V * 1e3, significantDigits: 4)) mV during a "
                + "\(context.step.kind.rawValue) step at \(formatNumber(context.step.currentDensity_mA_cm2)) mA/cm2",
            time_s: sample.time_s, onsetTime_s: lastNearExtreme_s ?? running.time_s,
            currentDensity_mA_cm2: context.step.currentDensity_mA_cm2,
            evidence: [
                "drop_V": drop_V, "extreme_V": running.magnitude_V, "voltage_V": sample.voltage_V, "fall_V": fall,
                "ignore_first_s": ignoreFirst_s, "extreme_time_s": running.time_s,
            ])
    }
}

/// Guard: the cell voltage leaves the allowed window.
public struct VoltageWindowCriterion: StopCriterion {
    public let name = "voltage-window"
    public let detectsShort = false
    public let minimum_V: Double
    public let maximum_V: Double

    public init(minimum_V: Double, maximum_V: Double) {
        self.minimum_V = minimum_V
        self.maximum_V = maximum_V
    }

    public mutating func stepStarted(_ context: StepContext) {}

    public mutating func evaluate(_ sample: InstrumentSample, context: StepContext) -> Verdict? {
        guard sample.voltage_V < minimum_V || sample.voltage_V > maximum_V else { return nil }
        return Verdict(
            criterion: name, action: .stop,
            reason: "cell voltage \(formatNumber(sample.voltage_V)) V is outside [\(formatNumber(minimum_V)), "
                + "\(formatNumber(maximum_V))] V",
            time_s: sample.time_s, onsetTime_s: sample.time_s,
            evidence: ["voltage_V": sample.voltage_V, "min_V": minimum_V, "max_V": maximum_V])
    }
}
