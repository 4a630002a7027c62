/// What a planned step does, as shown in plans and stored with steps.
public enum StepKind: String, Sendable, Hashable, Codable, CaseIterable {
    case rest
    case plate
    case strip
    case galvanostatic
    /// An impedance spectrum, measured with no DC current.
    case impedance
    /// The temperature controller's setpoint is written (at open circuit), then an optional wait.
    case setTemperature = "set_temperature"
    /// Open circuit until the step's conditions hold.
    case wait
    /// A potentiostatic hold: the potential is set, the current measured.
    case potentiostatic
    /// A linear or cyclic potential sweep: the potential is set, the current measured.
    case sweep

    /// True for steps that set the potential and measure the current.
    public var controlsPotential: Bool { self == .potentiostatic || self == .sweep }
}

/// One concrete step of a run: a fixed current (or open circuit) and its end conditions, for one cell.
public struct PlannedStep: Sendable, Hashable, Codable {
    /// Position in the run, from 0.
    public var index: Int
    /// Loop cycle, from 1; 0 for steps outside any loop.
    public var cycle: Int
    /// Position inside its cycle, from 1 (half-cycle number for plate/strip loops); 0 outside loops.
    public var stepInCycle: Int
    public var kind: StepKind
    /// Signed current at the WE, IUPAC (positive strips the WE); 0 for rest.
    public var current_A: Double
    /// Current density magnitude in mA/cm2 (the direction is in ``kind`` and the sign of ``current_A``).
    public var currentDensity_mA_cm2: Double
    /// Charge that ends the step, in coulombs (magnitude).
    public var capacityLimit_C: Double?
    /// Areal capacity that ends the step, in mAh/cm2, as written or derived.
    public var capacity_mAh_cm2: Double?
    public var durationLimit_s: Double?
    public var voltageLimit_V: Double?
    /// What an impedance step measures; nil for every other kind.
    public var impedance: ImpedanceSettings?
    /// The circuit to fit to an impedance step's spectrum, when the protocol names one.
    public var impedanceFit: ImpedanceFitSpecification?
    /// What a potentiostatic or sweep step sets; nil for every other kind.
    public var potential: PotentialProgram?
    /// A potential-controlled step ends when |I| rises to this, A.
    public var currentLimit_A: Double?
    /// A potentiostatic hold ends when |I| falls to this, A.
    public var currentCutoff_A: Double?
    /// A rest that ends once the voltage has relaxed.
    public var relaxation: RelaxationRule?
    /// The setpoint a `set_temperature` step writes; nil for every other kind.
    public var temperatureSetpoint_C: Double?
    /// What a `wait` (or waiting `set_temperature`) step waits for; nil for every other kind.
    public var wait: WaitRule?

    public init(
        index: Int, cycle: Int, stepInCycle: Int, kind: StepKind, current_A: Double,
        currentDensity_mA_cm2: Double, capacityLimit_C: Double? = nil, capacity_mAh_cm2: Double? = nil,
        durationLimit_s: Double? = nil, voltageLimit_V: Double? = nil, impedance: ImpedanceSettings? = nil,
        impedanceFit: ImpedanceFitSpecification? = nil
    ) {
        self.impedance = impedance
        self.impedanceFit = impedanceFit
        self.index = index
        self.cycle = cycle
        self.stepInCycle = stepInCycle
        self.kind = kind
        self.current_A = current_A
        self.currentDensity_mA_cm2 = currentDensity_mA_cm2
        self.capacityLimit_C = capacityLimit_C
        self.capacity_mAh_cm2 = capacity_mAh_cm2
        self.durationLimit_s = durationLimit_s
        self.voltageLimit_V = voltageLimit_V
    }

    /// The time the step takes if no voltage or current limit, relaxation or criterion ends it first (nil: only
    /// such a limit ends it).
    public var expectedDuration_s: Double? {
        if let impedance { return impedance.expectedDuration_s }
        if let sweep = potential?.duration_s { return min(sweep, durationLimit_s ?? sweep) }
        if let wait { return wait.shortest_s }
        var candidates: [Double] = []
        if let durationLimit_s { candidates.append(durationLimit_s) }
        if let capacityLimit_C, current_A != 0 { candidates.append(capacityLimit_C / abs(current_A)) }
        return candidates.min()
    }

    /// True when this step deposits metal on the working electrode.
    public var platesWorkingElectrode: Bool { current_A < 0 }
}

/// Why a protocol cannot be expanded into steps for a given cell, with the position of the declaration at fault
/// when the protocol was read from a file.
public struct PlanError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The problem, and what is allowed.
    public var message: String
    /// The step, loop or schedule that caused it; nil for problems of the request (the electrode area).
    public var position: SourcePosition?

    public init(_ message: String, at position: SourcePosition? = nil) {
        self.message = message
        self.position = position
    }

    /// An error about the declaration at `position`; without a position (a protocol built in code), the message
    /// names `key` instead.
    init(_ message: String, at position: SourcePosition?, key: String) {
        self.init(position == nil ? "\(key): \(message)" : message, at: position)
    }

    /// `line:column: key: message`, or the message alone without a position.
    public var description: String { position.map { "\($0): \(message)" } ?? message }

    /// `file:line:column: key: message`, the shape of every other error about a protocol file.
    public func description(file: String) -> String { SourcePosition.locate(message, at: position, in: file) }
}

/// The concrete steps of a protocol for one cell: loops unrolled, schedules evaluated, densities converted.
public struct StepPlan: Sendable, Hashable, Codable {
    public var steps: [PlannedStep]
    public var area_cm2: Double

    /// Most steps a plan may hold; a protocol that unrolls to more is almost certainly a mistake.
    public static let maximumStepCount = 100_000

    public init(steps: [PlannedStep], area_cm2: Double) {
        self.steps = steps
        self.area_cm2 = area_cm2
    }

    /// Expands `testProtocol` for a working electrode of `area_cm2`.
    ///
    /// The number of steps is computed first (``stepCount(of:)``), so a protocol beyond ``maximumStepCount`` is
    /// refused before a single step is built.
    public init(expanding testProtocol: TestProtocol, area_cm2: Double) throws(PlanError) {
        guard area_cm2 > 0, area_cm2.isFinite else {
            throw PlanError("the electrode area must be a positive number of cm2, got \(area_cm2)")
        }
        self.area_cm2 = area_cm2
        var steps: [PlannedStep] = []
        steps.reserveCapacity(try Self.stepCount(of: testProtocol.steps))
        for (position, step) in testProtocol.steps.enumerated() {
            let location = step.position?.key ?? "steps[\(position)]"
            switch step {
            case .rest, .galvanostatic, .impedance, .potentiostatic, .sweep, .setTemperature, .wait:
                steps.append(
                    try Self.plan(
                        step, index: steps.count, cycle: 0, stepInCycle: 0, loop: nil, area_cm2: area_cm2,
                        where: location))
            case .loop(let loop):
                // stepCount(of:) has checked that the loop ends, within the cap.
                let cycles = loop.effectiveCycleCount ?? 0
                for cycle in 1...max(cycles, 1) where cycles > 0 {
                    for (inner, innerStep) in loop.steps.enumerated() {
                        steps.append(
                            try Self.plan(
                                innerStep, index: steps.count, cycle: cycle, stepInCycle: inner + 1,
                                loop: loop, area_cm2: area_cm2,
                                where: innerStep.position?.key ?? "\(location).loop.steps[\(inner)]"))
                    }
                }
            }
        }
        self.steps = steps
    }

    /// The number of steps `steps` unroll to, computed without unrolling them: one per plain step, cycles times
    /// inner steps per loop. Throws, citing the step at fault, for a loop without an end and for a total beyond
    /// ``maximumStepCount`` (the arithmetic cannot overflow).
    public static func stepCount(of steps: [ProtocolStep]) throws(PlanError) -> Int {
        var total = 0
        for (index, step) in steps.enumerated() {
            let count: Int
            var detail = ""
            if case .loop(let loop) = step {
                guard let cycles = loop.effectiveCycleCount else {
                    throw PlanError(
                        "the loop has no end: give it `cycles` or give each schedule with an `increment` a "
                            + "`maximum`",
                        at: step.position, key: "steps[\(index)]")
                }
                let (product, overflow) = cycles.multipliedReportingOverflow(by: loop.steps.count)
                count = overflow ? Int.max : product
                detail =
                    "this loop runs \(cycles == Int.max ? "more than 9e18" : String(cycles)) cycles of "
                    + "\(loop.steps.count) steps"
            } else {
                count = 1
                detail = "this is step \(total + 1)"
            }
            let (sum, overflow) = total.addingReportingOverflow(count)
            guard !overflow, sum <= maximumStepCount else {
                throw PlanError(
                    "the protocol unrolls to more than \(maximumStepCount) steps (\(detail)"
                        + (total > 0 ? ", after \(total) steps before it" : "") + "); allowed: at most "
                        + "\(maximumStepCount) steps in all: lower `cycles` or a schedule's `maximum`, or raise its "
                        + "`increment`",
                    at: step.position, key: "steps[\(index)]")
            }
            total = sum
        }
        return total
    }

    private static func plan(
        _ step: ProtocolStep, index: Int, cycle: Int, stepInCycle: Int, loop: LoopStep?, area_cm2: Double,
        where location: String
    ) throws(PlanError) -> PlannedStep {
        switch step {
        case .rest(let rest):
            var planned = PlannedStep(
                index: index, cycle: cycle, stepInCycle: stepInCycle, kind: .rest, current_A: 0,
                currentDensity_mA_cm2: 0, durationLimit_s: rest.duration_s)
            planned.relaxation = rest.until
            return planned
        case .potentiostatic(let hold):
            let limit_A = hold.currentLimit.map { abs($0.amperes(area_cm2: area_cm2)) }
            var planned = PlannedStep(
                index: index, cycle: cycle, stepInCycle: stepInCycle, kind: .potentiostatic, current_A: 0,
                currentDensity_mA_cm2: 0, capacityLimit_C: hold.capacity?.coulombs(area_cm2: area_cm2),
                capacity_mAh_cm2: hold.capacity?.areal(area_cm2: area_cm2), durationLimit_s: hold.duration_s)
            planned.potential = .hold(hold.potential_V, versus: hold.versus, compliance_A: limit_A)
            planned.currentLimit_A = limit_A
            planned.currentCutoff_A = hold.currentCutoff.map { abs($0.amperes(area_cm2: area_cm2)) }
            return planned
        case .sweep(let sweep):
            let limit_A = sweep.currentLimit.map { abs($0.amperes(area_cm2: area_cm2)) }
            var planned = PlannedStep(
                index: index, cycle: cycle, stepInCycle: stepInCycle, kind: .sweep, current_A: 0,
                currentDensity_mA_cm2: 0)
            planned.potential = PotentialProgram(
                versus: sweep.versus, corners_V: [sweep.from_V] + sweep.vertices_V + [sweep.to_V],
                rate_V_s: sweep.rate_V_s, cycles: sweep.cycles, currentCompliance_A: limit_A)
            planned.durationLimit_s = planned.potential?.duration_s
            planned.currentLimit_A = limit_A
            return planned
        case .galvanostatic(let galvanostatic):
            guard
                let setting = galvanostatic.current ?? loop?.schedule(for: galvanostatic.role)?.setting(forCycle: cycle)
            else {
                throw PlanError(
                    "no current for cycle \(cycle); give the step a current or the loop a schedule",
                    at: galvanostatic.position, key: location)
            }
            let magnitude_A = abs(setting.amperes(area_cm2: area_cm2))
            let signed_A: Double
            let kind: StepKind
            switch galvanostatic.role {
            case .plate:
                signed_A = -magnitude_A
                kind = .plate
            case .strip:
                signed_A = magnitude_A
                kind = .strip
            case .signed:
                signed_A = setting.amperes(area_cm2: area_cm2)
                kind = .galvanostatic
            }
            let capacity_C = galvanostatic.capacity?.coulombs(area_cm2: area_cm2)
            let areal: Double? =
                galvanostatic.capacity?.areal(area_cm2: area_cm2)
                ?? galvanostatic.duration_s.map { magnitude_A * $0 / 3.6 / area_cm2 }
            return PlannedStep(
                index: index, cycle: cycle, stepInCycle: stepInCycle, kind: kind, current_A: signed_A,
                currentDensity_mA_cm2: abs(setting.density(area_cm2: area_cm2)), capacityLimit_C: capacity_C,
                capacity_mAh_cm2: areal, durationLimit_s: galvanostatic.duration_s,
                voltageLimit_V: galvanostatic.voltageLimit_V)
        case .impedance(let impedance):
            return PlannedStep(
                index: index, cycle: cycle, stepInCycle: stepInCycle, kind: .impedance, current_A: 0,
                currentDensity_mA_cm2: 0, impedance: impedance.settings(area_cm2: area_cm2),
                impedanceFit: impedance.fit)
        case .setTemperature(let setTemperature):
            var planned = PlannedStep(
                index: index, cycle: cycle, stepInCycle: stepInCycle, kind: .setTemperature, current_A: 0,
                currentDensity_mA_cm2: 0, durationLimit_s: setTemperature.wait == nil ? 0 : nil)
            planned.temperatureSetpoint_C = setTemperature.setpoint_C
            planned.wait = setTemperature.wait
            return planned
        case .wait(let wait):
            var planned = PlannedStep(
                index: index, cycle: cycle, stepInCycle: stepInCycle, kind: .wait, current_A: 0,
                currentDensity_mA_cm2: 0)
            planned.wait = wait.rule
            return planned
        case .loop(let inner):
            throw PlanError("a loop cannot contain another loop", at: inner.position, key: location)
        }
    }
}
