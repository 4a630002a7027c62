/// A band a measured quantity must stay in for a settling time: `temperature within 80 +/- 1 C for 10 min`.
public struct WaitCondition: Sendable, Hashable, Codable {
    /// What the condition watches, as protocol files name it.
    public enum Quantity: String, Sendable, Hashable, Codable, CaseIterable {
        case temperature
        case stackPressure = "stack_pressure"

        /// The unit the band is written in.
        public var unit: String { self == .temperature ? "C" : "MPa" }

        /// What a rig must measure for this condition to be judged.
        public var measured: MeasuredQuantity { self == .temperature ? .temperature : .stackPressure }
    }

    public var quantity: Quantity
    /// The middle of the band, in C or MPa.
    public var target: Double
    /// Half the band's width.
    public var tolerance: Double
    /// How long the quantity must stay in the band without a break.
    public var hold_s: Double

    public init(quantity: Quantity, target: Double, tolerance: Double, hold_s: Double) {
        self.quantity = quantity
        self.target = target
        self.tolerance = tolerance
        self.hold_s = hold_s
    }

    /// The sample's value of the quantity, or nil when it has none or the rig flagged it unusable.
    public func value(of sample: InstrumentSample) -> Double? {
        let value: Double?
        switch quantity {
        case .temperature:
            guard sample.flags.isDisjoint(with: .temperatureUnusable) else { return nil }
            value = sample.temperature_C
        case .stackPressure:
            guard sample.flags.isDisjoint(with: .pressureUnusable) else { return nil }
            value = sample.pressure_MPa
        }
        guard let value, value.isFinite else { return nil }
        return value
    }

    /// Whether `value` lies in the band (its edges included).
    public func contains(_ value: Double) -> Bool { abs(value - target) <= tolerance * (1 + 1e-12) }

    /// `temperature within 80 +/- 1 C for 10 min`, as a protocol file writes it.
    public var description: String {
        "\(quantity.rawValue) within \(formatNumber(target)) +/- \(formatNumber(tolerance)) \(quantity.unit) for "
            + formatSeconds(hold_s)
    }
}

/// How a conditioning step ends: when every condition has held for its time, or (if given) not later than the
/// timeout, which pauses the run at open circuit and says which condition was not met.
public struct WaitRule: Sendable, Hashable, Codable {
    public var conditions: [WaitCondition]
    /// Cell time after which an unmet wait pauses the run; nil waits for ever.
    public var timeout_s: Double?

    public init(conditions: [WaitCondition], timeout_s: Double? = nil) {
        self.conditions = conditions
        self.timeout_s = timeout_s
    }

    /// The shortest time the wait can take: its longest hold.
    public var shortest_s: Double { conditions.map(\.hold_s).max() ?? 0 }
}

/// `wait: {until: ..., timeout: ...}`: open circuit until the conditions hold (the operator turns the clamp, the
/// oven settles); samples are recorded throughout.
public struct WaitStep: Sendable, Hashable, Codable {
    public var rule: WaitRule
    /// Where the step was written, when it was read from a file.
    public var position: SourcePosition?

    public init(rule: WaitRule, position: SourcePosition? = nil) {
        self.rule = rule
        self.position = position
    }
}

/// `set_temperature: {setpoint: 80 C}`: writes the temperature controller's setpoint and enables its output, at open
/// circuit; with `wait:` it then waits until the temperature is within the band around the setpoint.
public struct SetTemperatureStep: Sendable, Hashable, Codable {
    public var setpoint_C: Double
    /// The wait after the write (its condition is on the temperature around the setpoint); nil ends the step at once.
    public var wait: WaitRule?
    /// Where the step was written, when it was read from a file.
    public var position: SourcePosition?

    public init(setpoint_C: Double, wait: WaitRule? = nil, position: SourcePosition? = nil) {
        self.setpoint_C = setpoint_C
        self.wait = wait
        self.position = position
    }
}

/// `10 min`, `1.5 h`, `30 s`: a time as a protocol file would write it.
public func formatSeconds(_ seconds: Double) -> String {
    if seconds >= 3600, (seconds / 3600 * 100).rounded() == seconds / 36 { return "\(formatNumber(seconds / 3600)) h" }
    if seconds >= 60, (seconds / 60 * 100).rounded() == seconds / 0.6 { return "\(formatNumber(seconds / 60)) min" }
    return "\(formatNumber(seconds)) s"
}
