/// The electrode a controlled potential is measured against.
public enum PotentialReference: String, Sendable, Hashable, Codable, CaseIterable {
    /// The reference electrode: the working electrode's potential alone (three-electrode cells).
    case reference = "RE"
    /// The counter electrode: the whole cell voltage.
    case counter = "CE"
}

/// A potentiostatic hold: the working electrode held at one potential until its time, a current limit, a current
/// cut-off or a charge ends it.
public struct PotentiostaticStep: Sendable, Hashable, Codable {
    public var potential_V: Double
    public var versus: PotentialReference
    public var duration_s: Double?
    /// The step ends when the current's magnitude rises to this (a short, a runaway).
    public var currentLimit: CurrentSetting?
    /// The step ends when the current's magnitude falls to this (the relaxation of a hold).
    public var currentCutoff: CurrentSetting?
    public var capacity: CapacityLimit?
    /// Where the step was written, when it was read from a file.
    public var position: SourcePosition?

    public init(
        potential_V: Double, versus: PotentialReference, duration_s: Double? = nil,
        currentLimit: CurrentSetting? = nil, currentCutoff: CurrentSetting? = nil, capacity: CapacityLimit? = nil,
        position: SourcePosition? = nil
    ) {
        self.potential_V = potential_V
        self.versus = versus
        self.duration_s = duration_s
        self.currentLimit = currentLimit
        self.currentCutoff = currentCutoff
        self.capacity = capacity
        self.position = position
    }
}

/// A linear potential sweep: from `from_V` through each vertex to `to_V` at `rate_V_s`, `cycles` times. A cyclic
/// voltammogram is a sweep with vertices that ends where it began.
public struct SweepStep: Sendable, Hashable, Codable {
    public var versus: PotentialReference
    public var from_V: Double
    public var vertices_V: [Double]
    public var to_V: Double
    /// Scan rate, V/s (positive).
    public var rate_V_s: Double
    public var cycles: Int
    /// The step ends early when the current's magnitude rises to this.
    public var currentLimit: CurrentSetting?
    /// Where the step was written, when it was read from a file.
    public var position: SourcePosition?

    public init(
        versus: PotentialReference, from_V: Double, vertices_V: [Double] = [], to_V: Double, rate_V_s: Double,
        cycles: Int = 1, currentLimit: CurrentSetting? = nil, position: SourcePosition? = nil
    ) {
        self.versus = versus
        self.from_V = from_V
        self.vertices_V = vertices_V
        self.to_V = to_V
        self.rate_V_s = rate_V_s
        self.cycles = cycles
        self.currentLimit = currentLimit
        self.position = position
    }
}

/// The end rule of a rest that waits for the cell to relax: the magnitude of dV/dt stays below `rate_V_s` for
/// `hold_s` of cell time (`until: dV/dt < 0.1 mV/min for 5 min`).
public struct RelaxationRule: Sendable, Hashable, Codable {
    /// Largest |dV/dt| that counts as relaxed, V/s.
    public var rate_V_s: Double
    /// How long the voltage must stay that still.
    public var hold_s: Double

    public init(rate_V_s: Double, hold_s: Double) {
        self.rate_V_s = rate_V_s
        self.hold_s = hold_s
    }
}

/// What a potential-controlled step asks of the instrument: a hold (one corner) or a piecewise-linear sweep through
/// its corners at a scan rate, repeated `cycles` times, measured against `versus`.
public struct PotentialProgram: Sendable, Hashable, Codable {
    public var versus: PotentialReference
    /// The potentials the program passes through in one cycle, in order; a hold has one.
    public var corners_V: [Double]
    /// Scan rate, V/s; nil for a hold.
    public var rate_V_s: Double?
    public var cycles: Int
    /// The current the instrument must not exceed (its compliance), A.
    public var currentCompliance_A: Double?

    public init(
        versus: PotentialReference, corners_V: [Double], rate_V_s: Double? = nil, cycles: Int = 1,
        currentCompliance_A: Double? = nil
    ) {
        precondition(!corners_V.isEmpty, "a potential program needs at least one potential")
        self.versus = versus
        self.corners_V = corners_V
        self.rate_V_s = rate_V_s
        self.cycles = cycles
        self.currentCompliance_A = currentCompliance_A
    }

    /// A hold at one potential.
    public static func hold(_ potential_V: Double, versus: PotentialReference, compliance_A: Double? = nil)
        -> PotentialProgram
    {
        PotentialProgram(versus: versus, corners_V: [potential_V], currentCompliance_A: compliance_A)
    }

    /// Potential travelled in one cycle, V.
    public var pathPerCycle_V: Double {
        zip(corners_V, corners_V.dropFirst()).reduce(0) { $0 + abs($1.1 - $1.0) }
    }

    /// Cell time the sweep takes; nil for a hold, which lasts until its step ends.
    public var duration_s: Double? {
        guard let rate_V_s, rate_V_s > 0 else { return nil }
        return pathPerCycle_V * Double(cycles) / rate_V_s
    }

    /// Every potential the program reaches (its extremes lie among them).
    public var extremes_V: ClosedRange<Double> { corners_V.min()!...corners_V.max()! }

    /// The potential `elapsed_s` after the program began; after a sweep's end, its last corner.
    public func potential(atElapsed elapsed_s: Double) -> Double {
        guard let rate_V_s, rate_V_s > 0, corners_V.count > 1, let duration_s, elapsed_s > 0 else {
            return corners_V[0]
        }
        guard elapsed_s < duration_s else { return corners_V[corners_V.count - 1] }
        let perCycle = pathPerCycle_V
        guard perCycle > 0 else { return corners_V[0] }
        var travelled = (elapsed_s * rate_V_s).truncatingRemainder(dividingBy: perCycle)
        for (start, end) in zip(corners_V, corners_V.dropFirst()) {
            let length = abs(end - start)
            if travelled <= length {
                return start + (end > start ? travelled : -travelled)
            }
            travelled -= length
        }
        return corners_V[corners_V.count - 1]
    }

    /// `5 mV vs RE`, or `-10 mV -> 10 mV -> -10 mV vs RE at 10 mV/s, 3 cycles`.
    public var summary: String {
        let path = corners_V.map { formatPotential($0) }.joined(separator: " -> ")
        guard let rate_V_s else { return "\(path) vs \(versus.rawValue)" }
        return "\(path) vs \(versus.rawValue) at \(formatNumber(rate_V_s * 1e3)) mV/s"
            + (cycles > 1 ? ", \(cycles) cycles" : "")
    }
}

/// A potential in mV when below a volt (`-10 mV`), else in V (`1 V`).
public func formatPotential(_ volts: Double) -> String {
    abs(volts) < 1 ? "\(formatNumber(volts * 1e3)) mV" : "\(formatNumber(volts)) V"
}

extension TestProtocol {
    /// Refuses any potentiostatic or sweep step among `steps` (loops included) that would set a potential outside
    /// `window`, citing the step and the allowed range; `limitName` says whose window it is (the rig's compliance, a
    /// `voltage-window` guard).
    public static func checkPotentials(
        _ steps: [ProtocolStep], within window: ClosedRange<Double>, limitName: String
    ) throws(PlanError) {
        for (index, step) in steps.enumerated() {
            let potentials: [Double]
            switch step {
            case .potentiostatic(let hold): potentials = [hold.potential_V]
            case .sweep(let sweep): potentials = [sweep.from_V] + sweep.vertices_V + [sweep.to_V]
            case .loop(let loop):
                try checkPotentials(loop.steps, within: window, limitName: limitName)
                continue
            default: continue
            }
            if let outside = potentials.first(where: { !window.contains($0) }) {
                throw PlanError(
                    "the step sets \(formatPotential(outside)), outside \(limitName); allowed: "
                        + "\(formatPotential(window.lowerBound)) to \(formatPotential(window.upperBound))",
                    at: step.position, key: "steps[\(index)]")
            }
        }
    }

    /// The kinds of step the protocol runs, loops included, in first-seen order.
    public var stepKinds: [StepKind] { Self.stepKinds(of: steps) }

    /// The kinds of step `steps` run, loops included, in first-seen order.
    public static func stepKinds(of steps: [ProtocolStep]) -> [StepKind] {
        var kinds: [StepKind] = []
        func collect(_ steps: [ProtocolStep]) {
            for step in steps {
                let kind: StepKind?
                switch step {
                case .rest: kind = .rest
                case .galvanostatic(let galvanostatic):
                    switch galvanostatic.role {
                    case .plate: kind = .plate
                    case .strip: kind = .strip
                    case .signed: kind = .galvanostatic
                    }
                case .impedance: kind = .impedance
                case .potentiostatic: kind = .potentiostatic
                case .sweep: kind = .sweep
                case .setTemperature: kind = .setTemperature
                case .wait: kind = .wait
                case .loop(let loop):
                    collect(loop.steps)
                    kind = nil
                }
                if let kind, !kinds.contains(kind) { kinds.append(kind) }
            }
        }
        collect(steps)
        return kinds
    }
}
