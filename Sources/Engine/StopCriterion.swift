import Domain

/// What the engine knows about the cell and the conditions of a run, beyond the step plan.
///
/// Guards need it: the stack-pressure setpoint, the anode metal (melting point, metal per mAh/cm2) and the metal
/// thickness of each electrode. Every field is optional; a criterion that needs a missing value and has no
/// parameter for it refuses to build, naming what to give.
public struct RunContext: Sendable, Hashable, Codable {
    public var metal: AnodeMetal?
    /// Initial metal thickness of each electrode, micrometres.
    public var metalThickness_um: Double?
    public var stackPressureSetpoint_MPa: Double?
    public var temperatureSetpoint_C: Double?
    /// The smallest voltage step the galvanostat reports on its present range (volts), when the driver knows it;
    /// criteria floor their noise estimates at it.
    public var voltageResolution_V: Double?
    /// The electrolyte's area resistance, Ohm cm2, when the rig file gives its conductivity and thickness; the
    /// `hard-short` criterion's reference when the protocol gives none and no impedance step has measured it.
    public var electrolyteResistance_Ohm_cm2: Double?

    public init(
        metal: AnodeMetal? = nil, metalThickness_um: Double? = nil, stackPressureSetpoint_MPa: Double? = nil,
        temperatureSetpoint_C: Double? = nil, voltageResolution_V: Double? = nil,
        electrolyteResistance_Ohm_cm2: Double? = nil
    ) {
        self.metal = metal
        self.metalThickness_um = metalThickness_um
        self.stackPressureSetpoint_MPa = stackPressureSetpoint_MPa
        self.temperatureSetpoint_C = temperatureSetpoint_C
        self.voltageResolution_V = voltageResolution_V
        self.electrolyteResistance_Ohm_cm2 = electrolyteResistance_Ohm_cm2
    }

    /// The context of a run of a protocol on a cell: the protocol's conditions win over the cell's own values.
    public init(cell: CellDescription, conditions: TestConditions) {
        self.init(
            metal: cell.metal, metalThickness_um: cell.metalThickness_um,
            stackPressureSetpoint_MPa: conditions.stackPressure_MPa ?? cell.stackPressure_MPa,
            temperatureSetpoint_C: conditions.temperature_C ?? cell.temperature_C,
            electrolyteResistance_Ohm_cm2: cell.electrolyteResistance_Ohm_cm2)
    }

    /// This context with the protocol's conditions filled in where the context has none.
    public func completed(with conditions: TestConditions) -> RunContext {
        var context = self
        context.stackPressureSetpoint_MPa = stackPressureSetpoint_MPa ?? conditions.stackPressure_MPa
        context.temperatureSetpoint_C = temperatureSetpoint_C ?? conditions.temperature_C
        return context
    }
}

/// What a stop criterion knows about the step a sample belongs to.
public struct StepContext: Sendable, Hashable {
    public var step: PlannedStep
    /// Cell time at which the step began.
    public var startTime_s: Double
    /// Cell time since the step began, at the current sample, not counting time spent paused.
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

    /// The voltage the step controls and voiding shows in: WE-RE in a three-electrode cell, else the cell voltage.
    public func controlledVoltage(_ sample: InstrumentSample) -> Double {
        threeElectrode ? (sample.voltageWERE_V ?? sample.voltage_V) : sample.voltage_V
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
    /// True when the criterion keeps judging samples while the run is paused at open circuit (guards do).
    var evaluatesWhilePaused: Bool { get }
    mutating func stepStarted(_ context: StepContext)
    /// The step's current was applied again after a pause; by default the step's model starts afresh.
    mutating func stepResumed(_ context: StepContext)
    /// Judges one sample. A criterion never traps and never puts a non-finite number in a verdict; one that cannot
    /// judge a sample returns a `warn` saying why.
    mutating func evaluate(_ sample: InstrumentSample, context: StepContext) -> Verdict?
    /// An impedance step of the run measured a spectrum (ohms, not area-specific); by default ignored.
    mutating func impedanceMeasured(_ points: [ImpedancePoint])
}

extension StopCriterion {
    public var evaluatesWhilePaused: Bool { false }

    public mutating func stepResumed(_ context: StepContext) { stepStarted(context) }

    public mutating func impedanceMeasured(_ points: [ImpedancePoint]) {}
}

/// Why a protocol's criteria cannot be built.
public struct CriterionError: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

/// Builds criterion implementations from their declarations in a protocol's `stop:` list.
public enum CriterionFactory {
    /// Names with an implementation; every name in ``CriterionCatalogue`` must be here.
    public static let implementedNames: [String] = [
        "voltage-drop", "voltage-window", "dendrite-short", "hard-short", "voiding", "stack-pressure", "temperature",
        "metal-inventory",
    ]

    /// Builds one criterion; `context` supplies cell data that guards need when the declaration does not give it.
    public static func make(_ declaration: CriterionDeclaration, context: RunContext = RunContext())
        throws(CriterionError) -> any StopCriterion
    {
        switch declaration.name {
        case "voltage-drop":
            return VoltageDropCriterion(
                drop_V: declaration.quantity("drop")!,
                during: VoltageDropCriterion.Watch(rawValue: declaration.word("during")!) ?? .plate,
                ignoreFirst_s: declaration.quantity("ignore-first") ?? 0, action: try action(declaration))
        case "voltage-window":
            return VoltageWindowCriterion(
                minimum_V: declaration.quantity("min")!, maximum_V: declaration.quantity("max")!)
        case "dendrite-short":
            return DendriteShortCriterion(
                settings: DendriteShortCriterion.Settings(
                    during: PlatingWatch(rawValue: declaration.word("during")!) ?? .plate,
                    minimumDrop_V: declaration.quantity("min-drop")!,
                    memory_s: declaration.quantity("memory")!,
                    noiseFloor_V: declaration.quantity("noise-floor")!,
                    voltageResolution_V: context.voltageResolution_V))
        case "hard-short":
            return HardShortCriterion(
                during: PlatingWatch(rawValue: declaration.word("during")!) ?? .plate,
                electrolyteResistance_Ohm_cm2: declaration.quantity("electrolyte-resistance"),
                threshold_Ohm_cm2: declaration.quantity("below"),
                rigElectrolyteResistance_Ohm_cm2: context.electrolyteResistance_Ohm_cm2)
        case "voiding":
            return VoidingCriterion(
                settings: VoidingCriterion.Settings(
                    during: StrippingWatch(rawValue: declaration.word("during")!) ?? .strip,
                    action: try action(declaration),
                    rise_V: declaration.quantity("rise")!,
                    minimumRise_V: declaration.quantity("min-rise")!,
                    growth_V: declaration.quantity("growth")!,
                    horizon_s: declaration.quantity("horizon")!,
                    settle_s: declaration.quantity("settle")!,
                    limit_V: declaration.quantity("limit")))
        case "stack-pressure":
            guard let setpoint = declaration.quantity("setpoint") ?? context.stackPressureSetpoint_MPa else {
                throw CriterionError(
                    message: "stack-pressure needs a setpoint: give `setpoint:` or the protocol's "
                        + "`conditions.stack_pressure`")
            }
            return StackPressureCriterion(
                setpoint_MPa: setpoint, band_MPa: declaration.quantity("band")!,
                hold_s: declaration.quantity("hold")!, action: try action(declaration))
        case "temperature":
            let metal = declaration.word("metal").flatMap(AnodeMetal.init(rawValue:)) ?? context.metal
            guard let maximum = declaration.quantity("max") ?? metal.map({ $0.meltingPoint_C - 10 }) else {
                throw CriterionError(
                    message: "temperature needs `max:` or the anode metal (`metal:`, or the rig's cell) to take "
                        + "10 C below its melting point")
            }
            return TemperatureCriterion(
                maximum_C: maximum, hold_s: declaration.quantity("hold")!, action: try action(declaration))
        case "metal-inventory":
            let metal = declaration.word("metal").flatMap(AnodeMetal.init(rawValue:)) ?? context.metal
            guard let metal else {
                throw CriterionError(message: "metal-inventory needs the anode metal: give `metal:` or the rig's cell")
            }
            guard let thickness = declaration.quantity("thickness") ?? context.metalThickness_um else {
                throw CriterionError(
                    message: "metal-inventory needs the metal thickness: give `thickness:` or the rig's cell "
                        + "`metal_thickness`")
            }
            return MetalInventoryCriterion(
                metal: metal, thickness_um: thickness, reserve_um: declaration.quantity("reserve")!,
                action: try action(declaration))
        default:
            throw CriterionError(message: "no implementation of stop criterion '\(declaration.name)'")
        }
    }

    private static func action(_ declaration: CriterionDeclaration) throws(CriterionError) -> VerdictAction {
        let word = declaration.word("action") ?? "stop"
        guard let action = VerdictAction(rawValue: word), action != .continue else {
            throw CriterionError(message: "\(declaration.name): '\(word)' is not an action")
        }
        return action
    }
}

/// Which current-carrying steps a short criterion watches: those plating the WE, or every one (symmetric cells,
/// where each half-cycle plates one of the two electrodes).
public enum PlatingWatch: String, Sendable, Hashable {
    case plate
    case both

    func watches(_ step: PlannedStep) -> Bool {
        switch self {
        case .plate: step.current_A < 0
        case .both: step.current_A != 0
        }
    }
}

/// Which current-carrying steps a voiding criterion watches: those stripping the WE, or every one.
public enum StrippingWatch: String, Sendable, Hashable {
    case strip
    case both

    func watches(_ step: PlannedStep) -> Bool {
        switch self {
        case .strip: step.current_A > 0
        case .both: step.current_A != 0
        }
    }
}
