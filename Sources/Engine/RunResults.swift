import Domain

/// What a run found, summarised from its verdicts: the CCD with the rule that found it, and for stripping series
/// the voiding verdict per current density.
public struct RunResults: Sendable, Hashable, Codable {
    /// A critical current density and the verdict (criterion, parameters in its evidence, onset) behind it.
    public struct CriticalCurrent: Sendable, Hashable, Codable {
        public var currentDensity_mA_cm2: Double
        public var criterion: String
        public var onsetTime_s: Double?
        public var detectionTime_s: Double
        public var verdict: Verdict
    }

    /// Whether stripping at one current density voided, over every watched strip at that density.
    public struct VoidingAtCurrent: Sendable, Hashable, Codable {
        public var currentDensity_mA_cm2: Double
        /// Stripping steps at this density that ran (at least one sample).
        public var strippingSteps: Int
        /// Of those, the steps with a voiding verdict.
        public var flaggedSteps: Int
        public var voided: Bool { flaggedSteps > 0 }
        /// The first voiding verdict at this density.
        public var firstVerdict: Verdict?
    }

    /// Criteria whose stop means a dendrite short.
    public static let shortCriteria: Set<String> = ["voltage-drop", "dendrite-short", "hard-short"]

    public var criticalCurrent: CriticalCurrent?
    public var voiding: [VoidingAtCurrent]

    /// Summarises a run's events against its plan. The CCD is taken from the first `stop` of a short criterion;
    /// voiding results list every current density at which the WE was stripped, in increasing order.
    public init(events: [RunEvent], plan: StepPlan) {
        let verdicts = events.compactMap { event in event.verdict.map { (event, $0) } }.filter {
            $0.0.kind == .verdict
        }
        if let (_, verdict) = verdicts.first(where: {
            Self.shortCriteria.contains($0.1.criterion) && $0.1.action == .stop
        }) {
            criticalCurrent = CriticalCurrent(
                currentDensity_mA_cm2: verdict.currentDensity_mA_cm2 ?? 0, criterion: verdict.criterion,
                onsetTime_s: verdict.onsetTime_s, detectionTime_s: verdict.time_s, verdict: verdict)
        }
        let ranSteps = Set(events.filter { $0.kind == .stepStarted }.compactMap(\.stepIndex))
        var byDensity: [Double: VoidingAtCurrent] = [:]
        for step in plan.steps where step.current_A > 0 && ranSteps.contains(step.index) {
            let density = step.currentDensity_mA_cm2
            var entry =
                byDensity[density]
                ?? VoidingAtCurrent(currentDensity_mA_cm2: density, strippingSteps: 0, flaggedSteps: 0)
            entry.strippingSteps += 1
            let flagged = verdicts.filter { $0.0.stepIndex == step.index && $0.1.criterion == "voiding" }
            if let first = flagged.first {
                entry.flaggedSteps += 1
                if entry.firstVerdict == nil { entry.firstVerdict = first.1 }
            }
            byDensity[density] = entry
        }
        voiding = byDensity.values.sorted { $0.currentDensity_mA_cm2 < $1.currentDensity_mA_cm2 }
    }
}
