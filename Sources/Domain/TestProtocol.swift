/// A battery-test recipe as declared in a file under `protocols/` (schema 1).
///
/// It says *what* to do to a cell (rest, plate, strip, loops with current schedules) and *when to stop*
/// (the `stop:` criteria). It knows nothing of instruments; ``StepPlan`` turns it into concrete steps for a
/// given electrode area.
public struct TestProtocol: Sendable, Hashable, Codable {
    public var schema: Int
    public var name: String
    public var summary: String?
    /// Where the recipe comes from (a paper, a lab SOP), recorded with every run.
    public var reference: String?
    /// The values of the file's `parameters:` used for this protocol (defaults or the operator's), as text.
    public var parameters: [String: String]
    /// True when the cell has a reference electrode and the WE-RE voltage is measured.
    public var threeElectrode: Bool
    /// Cell time between two samples, in seconds.
    public var samplingInterval_s: Double
    public var conditions: TestConditions
    public var steps: [ProtocolStep]
    public var stopCriteria: [CriterionDeclaration]
    /// What the run does when an instrument's port disappears mid-run.
    public var onInstrumentLoss: InstrumentLossPolicy
    /// What the daemon does with the run when it starts again after a restart (or a crash) that interrupted it.
    public var onRestart: RestartPolicy
    /// Whether the rig's queue goes on to its next run after this run ends (`then:`).
    public var then: QueuePolicy
    /// The rig the protocol is written for (the file's `rig:` key, a rig id such as `sim-li-3e`): a hint for
    /// people and for the test that runs every shipped protocol, not a restriction.
    public var intendedRig: String?

    public init(
        schema: Int = 1, name: String, summary: String? = nil, reference: String? = nil,
        parameters: [String: String] = [:], threeElectrode: Bool = false, samplingInterval_s: Double = 1,
        conditions: TestConditions = .init(),
        steps: [ProtocolStep], stopCriteria: [CriterionDeclaration] = [],
        onInstrumentLoss: InstrumentLossPolicy = .fault, onRestart: RestartPolicy = .resume,
        then: QueuePolicy = .hold
    ) {
        self.then = then
        self.onInstrumentLoss = onInstrumentLoss
        self.onRestart = onRestart
        self.schema = schema
        self.name = name
        self.summary = summary
        self.reference = reference
        self.parameters = parameters
        self.threeElectrode = threeElectrode
        self.samplingInterval_s = samplingInterval_s
        self.conditions = conditions
        self.steps = steps
        self.stopCriteria = stopCriteria
    }
}

/// What a run does when an instrument's port disappears (a pulled USB cable, a powered-down instrument).
public enum InstrumentLossPolicy: String, Sendable, Hashable, Codable, CaseIterable {
    /// End the run as faulted (the default): every sample so far is kept, the cell is left at open circuit.
    case fault
    /// Pause the run at open circuit and reopen the instrument's port until it answers again; the operator then
    /// resumes the step (`cellrig resume`) or aborts the run.
    case pause
}

/// What the daemon does with a run a restart interrupted (a power cut, an upgrade, a crash).
public enum RestartPolicy: String, Sendable, Hashable, Codable, CaseIterable {
    /// Continue the interrupted step with the charge it still owes, after checking the cell (the default: a
    /// galvanostatic half-cycle is defined by its charge, so finishing it keeps the test's numbers).
    case resume
    /// Run the interrupted step again from its start (for steps whose meaning needs them unbroken).
    case restartStep = "restart-step"
    /// Leave the run interrupted; an operator may still resume it by hand (`cellrig resume RUN`).
    case abort
}

/// The conditions a protocol asks for; recorded with the run and used by guards.
public struct TestConditions: Sendable, Hashable, Codable {
    public var stackPressure_MPa: Double?
    public var temperature_C: Double?

    public init(stackPressure_MPa: Double? = nil, temperature_C: Double? = nil) {
        self.stackPressure_MPa = stackPressure_MPa
        self.temperature_C = temperature_C
    }
}

/// One entry of a protocol's `steps:` list.
public enum ProtocolStep: Sendable, Hashable, Codable {
    /// Open circuit for a fixed time.
    case rest(RestStep)
    /// Constant current: plating or stripping the working electrode, or a signed current.
    case galvanostatic(GalvanostaticStep)
    /// A block of steps repeated over cycles, with per-cycle current schedules.
    case loop(LoopStep)
    /// One impedance spectrum (potentiostatic or galvanostatic EIS).
    case impedance(ImpedanceStep)
    /// The working electrode held at one potential.
    case potentiostatic(PotentiostaticStep)
    /// A linear or cyclic potential sweep.
    case sweep(SweepStep)
    /// Writes the temperature controller's setpoint, optionally waiting until the temperature settles.
    case setTemperature(SetTemperatureStep)
    /// Open circuit until temperature or stack pressure has held within a band for a settling time.
    case wait(WaitStep)

    /// Where the step was written, when it was read from a file.
    public var position: SourcePosition? {
        switch self {
        case .rest(let step): step.position
        case .galvanostatic(let step): step.position
        case .loop(let step): step.position
        case .impedance(let step): step.position
        case .potentiostatic(let step): step.position
        case .sweep(let step): step.position
        case .setTemperature(let step): step.position
        case .wait(let step): step.position
        }
    }
}

/// Open circuit (no current) for `duration_s`, or until the voltage has relaxed (`until`), whichever comes first.
public struct RestStep: Sendable, Hashable, Codable {
    /// The rest's length; with `until`, its longest.
    public var duration_s: Double
    /// Ends the rest once |dV/dt| has stayed below a rate for a time.
    public var until: RelaxationRule?
    /// Where the step was written, when it was read from a file.
    public var position: SourcePosition?

    public init(duration_s: Double, until: RelaxationRule? = nil, position: SourcePosition? = nil) {
        self.duration_s = duration_s
        self.until = until
        self.position = position
    }
}

/// What a galvanostatic step does to the working electrode, which fixes the sign of its current.
public enum GalvanostaticRole: String, Sendable, Hashable, Codable {
    /// Metal is deposited on the WE: negative current (IUPAC).
    case plate
    /// Metal is removed from the WE: positive current (IUPAC).
    case strip
    /// The sign is the one written in the file.
    case signed = "galvanostatic"
}

/// A current level, either absolute or per electrode area.
public enum CurrentSetting: Sendable, Hashable, Codable {
    case current_A(Double)
    case density_mA_cm2(Double)

    public var magnitude: Double {
        switch self {
        case .current_A(let value), .density_mA_cm2(let value): abs(value)
        }
    }

    /// The current in amperes for an electrode of `area_cm2`.
    public func amperes(area_cm2: Double) -> Double {
        switch self {
        case .current_A(let amps): amps
        case .density_mA_cm2(let density): density * area_cm2 * 1e-3
        }
    }

    /// The current density in mA/cm2 for an electrode of `area_cm2`.
    public func density(area_cm2: Double) -> Double {
        switch self {
        case .current_A(let amps): amps / area_cm2 * 1e3
        case .density_mA_cm2(let density): density
        }
    }

    /// The number as written, with its sign, in A or mA/cm2.
    public var signedValue: Double {
        switch self {
        case .current_A(let value), .density_mA_cm2(let value): value
        }
    }

    /// The signed value when `other` is of the same kind (both currents or both densities), else nil.
    func value(ifSameKindAs other: CurrentSetting) -> Double? {
        switch (self, other) {
        case (.current_A(let value), .current_A), (.density_mA_cm2(let value), .density_mA_cm2): value
        default: nil
        }
    }

    /// A setting of the same kind with another value.
    func withValue(_ value: Double) -> CurrentSetting {
        switch self {
        case .current_A: .current_A(value)
        case .density_mA_cm2: .density_mA_cm2(value)
        }
    }
}

/// How much charge ends a step: per electrode area, or absolute.
public enum CapacityLimit: Sendable, Hashable, Codable {
    case areal_mAh_cm2(Double)
    case absolute_mAh(Double)

    /// The charge in coulombs for an electrode of `area_cm2`.
    public func coulombs(area_cm2: Double) -> Double {
        switch self {
        case .areal_mAh_cm2(let value): value * area_cm2 * 3.6
        case .absolute_mAh(let value): value * 3.6
        }
    }

    public func areal(area_cm2: Double) -> Double {
        switch self {
        case .areal_mAh_cm2(let value): value
        case .absolute_mAh(let value): value / area_cm2
        }
    }
}

/// A constant-current step. It ends on whichever of its limits comes first.
public struct GalvanostaticStep: Sendable, Hashable, Codable {
    public var role: GalvanostaticRole
    /// The current; nil inside a loop means "take it from the loop's schedule for this cycle".
    public var current: CurrentSetting?
    public var capacity: CapacityLimit?
    public var duration_s: Double?
    /// The step ends when the magnitude of the controlled voltage reaches this value.
    public var voltageLimit_V: Double?
    /// Where the step was written, when it was read from a file.
    public var position: SourcePosition?

    public init(
        role: GalvanostaticRole, current: CurrentSetting? = nil, capacity: CapacityLimit? = nil,
        duration_s: Double? = nil, voltageLimit_V: Double? = nil, position: SourcePosition? = nil
    ) {
        self.role = role
        self.current = current
        self.capacity = capacity
        self.duration_s = duration_s
        self.voltageLimit_V = voltageLimit_V
        self.position = position
    }
}

/// Per-cycle currents: first the listed values, then each cycle adds `increment` until `maximum`.
///
/// The number of cycles is computed, never counted: a schedule to `1e300 mA/cm2` is known to be far too long at
/// once, without stepping through it.
public struct CurrentSchedule: Sendable, Hashable, Codable {
    public var values: [CurrentSetting]
    public var increment: CurrentSetting?
    /// The last value the schedule may reach (by magnitude); the loop ends after it.
    public var maximum: CurrentSetting?
    /// Where the schedule was written, when it was read from a file.
    public var position: SourcePosition?

    public init(
        values: [CurrentSetting], increment: CurrentSetting? = nil, maximum: CurrentSetting? = nil,
        position: SourcePosition? = nil
    ) {
        self.values = values
        self.increment = increment
        self.maximum = maximum
        self.position = position
    }

    /// The setting for cycle `cycle` (1-based), or nil when the schedule has run past its maximum or its list.
    public func setting(forCycle cycle: Int) -> CurrentSetting? {
        precondition(cycle >= 1, "cycles are numbered from 1")
        if cycle <= values.count { return values[cycle - 1] }
        guard let increment, let last = values.last, let base = last.value(ifSameKindAs: increment) else {
            return nil
        }
        let steps = cycle - values.count
        if let extra = cyclesAfterList, steps > extra { return nil }
        let next = roundedToGrid(base + Double(steps) * increment.signedValue)
        return last.withValue(next)
    }

    /// The number of cycles the schedule defines, or nil when it is unbounded (increment without maximum, or an
    /// increment of zero). Saturates at `Int.max`.
    public var cycleCount: Int? {
        guard increment != nil else { return values.count }
        guard let extra = cyclesAfterList else { return nil }
        let (total, overflow) = values.count.addingReportingOverflow(extra)
        return overflow ? Int.max : total
    }

    /// How many increments follow the listed values before the magnitude passes `maximum` (with a relative slack of
    /// 1e-9 for decimal steps), or nil without an end. Values move monotonically, so this is the largest k for which
    /// every one of `last + 1 * increment` ... `last + k * increment` lies within +/- maximum.
    private var cyclesAfterList: Int? {
        guard let increment else { return 0 }
        guard let last = values.last, let base = last.value(ifSameKindAs: increment) else { return 0 }
        let step = increment.signedValue
        guard step != 0 else {
            // The same value for ever: endless unless it is already beyond the maximum.
            if let maximum, abs(base) > maximum.magnitude * (1 + 1e-9) { return 0 }
            return nil
        }
        guard let maximum else { return nil }
        let limit = maximum.magnitude * (1 + 1e-9)
        // Distances along the direction the schedule moves in.
        let along = step > 0 ? base : -base
        let stride = abs(step)
        guard along.isFinite, stride.isFinite, limit.isFinite, along + stride <= limit, along + stride >= -limit else {
            return 0
        }
        let count = ((limit - along) / stride).rounded(.down)
        return count >= 9e18 ? Int.max : Int(count)
    }
}

/// Removes floating-point dust from schedule arithmetic (0.1 + 47 * 0.1 is 4.8, not 4.800000000000001) by
/// rounding to ten significant digits; the division by an exact power of ten lands on the nearest double.
func roundedToGrid(_ value: Double) -> Double {
    guard value != 0, value.isFinite else { return value }
    var exponent = 0
    var magnitude = abs(value)
    while magnitude >= 10 {
        magnitude /= 10
        exponent += 1
    }
    while magnitude < 1 {
        magnitude *= 10
        exponent -= 1
    }
    let digits = 9 - exponent
    guard digits >= 0, digits <= 22 else { return value }
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    return (value * scale).rounded() / scale
}

/// Steps repeated over cycles. Inner steps without a current take theirs from the schedules.
public struct LoopStep: Sendable, Hashable, Codable {
    /// Explicit cycle count; nil means "as many as the schedules define".
    public var cycles: Int?
    /// Schedule for every galvanostatic inner step without its own current.
    public var current: CurrentSchedule?
    /// Schedule for `plate` inner steps (overrides `current`).
    public var platingCurrent: CurrentSchedule?
    /// Schedule for `strip` inner steps (overrides `current`).
    public var strippingCurrent: CurrentSchedule?
    public var steps: [ProtocolStep]
    /// Where the loop was written, when it was read from a file.
    public var position: SourcePosition?

    public init(
        cycles: Int? = nil, current: CurrentSchedule? = nil, platingCurrent: CurrentSchedule? = nil,
        strippingCurrent: CurrentSchedule? = nil, steps: [ProtocolStep], position: SourcePosition? = nil
    ) {
        self.cycles = cycles
        self.current = current
        self.platingCurrent = platingCurrent
        self.strippingCurrent = strippingCurrent
        self.steps = steps
        self.position = position
    }

    /// The schedule that supplies the current of an inner step with this role.
    public func schedule(for role: GalvanostaticRole) -> CurrentSchedule? {
        switch role {
        case .plate: platingCurrent ?? current
        case .strip: strippingCurrent ?? current
        case .signed: current
        }
    }

    /// The number of cycles this loop runs: the explicit count, bounded by every schedule it uses.
    public var effectiveCycleCount: Int? {
        var bounds: [Int] = []
        if let cycles { bounds.append(cycles) }
        for role in usedRoles {
            if let schedule = schedule(for: role), let count = schedule.cycleCount { bounds.append(count) }
        }
        return bounds.min()
    }

    /// The roles of inner steps that read a schedule (no current of their own).
    public var usedRoles: [GalvanostaticRole] {
        var roles: [GalvanostaticRole] = []
        for step in steps {
            if case .galvanostatic(let inner) = step, inner.current == nil, !roles.contains(inner.role) {
                roles.append(inner.role)
            }
        }
        return roles
    }
}
