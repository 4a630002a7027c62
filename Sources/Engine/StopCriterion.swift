import Domain

/// What a stop criterion knows about the step a sample belongs to.
public struct StepContext: Sendable, Hashable {
    public var step: PlannedStep
    /// Cell time at which the step began.
    public var startTime_s: Double
    /// Cell time since the step began, at the current sample.
    public var elapsed_s: Double
    /// Charge passed in the step so far, coulombs (magnitude).
    public var charge_C: Double
    /// Samples seen in the step so far, counting the current one.
    public var sampleCount: Int
    public var area_cm2: Double
    public var threeElectrode: Bool

    public init(
        step: PlannedStep, startTime_s: Double, elapsed_s: Double = 0, charge_C: Double = 0, sampleCount: Int = 0,
        area_cm2: Double, threeElectrode: Bool
    ) {
        self.step = step
        self.startTime_s = startTime_s
        self.elapsed_s = elapsed_s
        self.charge_C = charge_C
        self.sampleCount = sampleCount
        self.area_cm2 = area_cm2
        self.threeElectrode = threeElectrode
    }
}

/// A live stop criterion: consumes samples in step context, keeps a small model, and returns verdicts.
///
/// The engine calls ``stepStarted(_:)`` at the start of every step, then ``evaluate(_:context:)`` for every
/// sample. Returning nil means `continue`. The same code runs live in the daemon and offline in `cellrig replay`,
/// so a criterion must depend only on its inputs (never on the wall clock).
public protocol StopCriterion: Sendable {
    /// The name used in protocol files (`voltage-drop`).
    var name: String { get }
    /// True when a `stop` from this criterion means a dendrite short, so its current density is the CCD.
    var detectsShort: Bool { get }
    mutating func stepStarted(_ context: StepContext)
    mutating func evaluate(_ sample: InstrumentSample, context: StepContext) -> Verdict?
}

/// Why a protocol's criteria cannot be built.
public struct CriterionError: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

/// Builds criterion implementations from their declarations in a protocol's `stop:` list.
public enum CriterionFactory {
    /// Names with an implementation; every name in ``CriterionCatalogue`` must be here.
    public static let implementedNames: [String] = ["voltage-drop", "voltage-window"]

    public static func make(_ declaration: CriterionDeclaration) throws(CriterionError) -> any StopCriterion {
        switch declaration.name {
        case "voltage-drop":
            return VoltageDropCriterion(
                drop_V: declaration.quantity("drop")!,
                during: VoltageDropCriterion.Watch(rawValue: declaration.word("during")!) ?? .plate,
                ignoreFirst_s: declaration.quantity("ignore-first") ?? 0)
        case "voltage-window":
            return VoltageWindowCriterion(
                minimum_V: declaration.quantity("min")!, maximum_V: declaration.quantity("max")!)
        default:
            throw CriterionError(message: "no implementation of stop criterion '\(declaration.name)'")
        }
    }
}
