/// What a planned step does, as shown in plans and stored with steps.
public enum StepKind: String, Sendable, Hashable, Codable {
    case rest
    case plate
    case strip
    case galvanostatic
    /// An impedance spectrum, measured with no DC current.
    case impedance
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

    /// The time the step takes if no voltage limit or criterion ends it first (nil: only a voltage limit ends it).
    public var expectedDuration_s: Double? {
        if let impedance { return impedance.expectedDuration_s }
        var candidates: [Double] = []
        if let durationLimit_s { candidates.append(durationLimit_s) }
        if let capacityLimit_C, current_A != 0 { candidates.append(capacityLimit_C / abs(current_A)) }
        return candidates.min()
    }

    /// True when this step deposits metal on the working electrode.
    public var platesWorkingElectrode: Bool { current_A < 0 }
}

/// Why a protocol cannot be expanded into steps for a given cell.
public struct PlanError: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
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
    public init(expanding testProtocol: TestProtocol, area_cm2: Double) throws(PlanError) {
        guard area_cm2 > 0, area_cm2.isFinite else {
            throw PlanError("the electrode area must be a positive number of cm2, got \(area_cm2)")
        }
        self.area_cm2 = area_cm2
        var steps: [PlannedStep] = []
        for (position, step) in testProtocol.steps.enumerated() {
            switch step {
            case .rest, .galvanostatic, .impedance:
                steps.append(
                    try Self.plan(
                        step, index: steps.count, cycle: 0, stepInCycle: 0, loop: nil, area_cm2: area_cm2,
                        where: "steps[\(position)]"))
            case .loop(let loop):
                guard let cycles = loop.effectiveCycleCount else {
                    throw PlanError(
                        "steps[\(position)]: the loop has no end: give it `cycles` or give each schedule with "
                            + "an `increment` a `maximum`")
                }
                for cycle in 1...max(cycles, 1) where cycles > 0 {
                    for (inner, innerStep) in loop.steps.enumerated() {
                        steps.append(
                            try Self.plan(
                                innerStep, index: steps.count, cycle: cycle, stepInCycle: inner + 1,
                                loop: loop, area_cm2: area_cm2, where: "steps[\(position)].loop.steps[\(inner)]"))
                        if steps.count > Self.maximumStepCount {
                            throw PlanError(
                                "steps[\(position)]: the loop unrolls to more than \(Self.maximumStepCount) steps")
                        }
                    }
                }
            }
        }
        self.steps = steps
    }

    private static func plan(
        _ step: ProtocolStep, index: Int, cycle: Int, stepInCycle: Int, loop: LoopStep?, area_cm2: Double,
        where location: String
    ) throws(PlanError) -> PlannedStep {
        switch step {
        case .rest(let rest):
            return PlannedStep(
                index: index, cycle: cycle, stepInCycle: stepInCycle, kind: .rest, current_A: 0,
                currentDensity_mA_cm2: 0, durationLimit_s: rest.duration_s)
        case .galvanostatic(let galvanostatic):
            guard
                let setting = galvanostatic.current ?? loop?.schedule(for: galvanostatic.role)?.setting(forCycle: cycle)
            else {
                throw PlanError(
                    "\(location): no current for cycle \(cycle); give the step a current or the loop a schedule")
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
        case .loop:
            throw PlanError("\(location): a loop cannot contain another loop")
        }
    }
}
