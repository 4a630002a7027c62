import Domain

/// Guard: the measured stack pressure stays outside `setpoint +/- band` for longer than `hold`.
///
/// One verdict per excursion; a sample back inside the band re-arms it. Samples without a pressure reading are
/// skipped. It keeps watching while the run is paused, so a pause it caused is visible in the record until fixed.
public struct StackPressureCriterion: StopCriterion {
    public let name = "stack-pressure"
    public let detectsShort = false
    public let evaluatesWhilePaused = true
    public let setpoint_MPa: Double
    public let band_MPa: Double
    public let hold_s: Double
    public let action: VerdictAction

    private var outsideSince_s: Double?
    private var reported = false

    public init(setpoint_MPa: Double, band_MPa: Double, hold_s: Double, action: VerdictAction) {
        self.setpoint_MPa = setpoint_MPa
        self.band_MPa = band_MPa
        self.hold_s = hold_s
        self.action = action
    }

    public mutating func stepStarted(_ context: StepContext) {}

    public mutating func stepResumed(_ context: StepContext) {}

    public mutating func evaluate(_ sample: InstrumentSample, context: StepContext) -> Verdict? {
        // A missing, stale or implausible reading says nothing about the clamp: neither in nor out of the band.
        guard let pressure = sample.pressure_MPa, pressure.isFinite, sample.flags.isDisjoint(with: .pressureUnusable)
        else { return nil }
        guard abs(pressure - setpoint_MPa) > band_MPa else {
            outsideSince_s = nil
            reported = false
            return nil
        }
        let since = outsideSince_s ?? sample.time_s
        outsideSince_s = since
        guard !reported, sample.time_s - since >= hold_s else { return nil }
        reported = true
        return Verdict(
            criterion: name, action: action,
            reason: "stack pressure \(formatNumber(pressure, significantDigits: 4)) MPa has been outside "
                + "\(formatNumber(setpoint_MPa)) +/- \(formatNumber(band_MPa)) MPa for "
                + "\(formatNumber(sample.time_s - since, significantDigits: 4)) s",
            time_s: sample.time_s, onsetTime_s: since,
            evidence: [
                "pressure_MPa": pressure, "setpoint_MPa": setpoint_MPa, "band_MPa": band_MPa, "hold_s": hold_s,
                "outside_since_s": since,
            ])
    }
}

/// Guard: the measured temperature stays above a maximum for longer than `hold` (default 10 C below the anode
/// metal's melting point). One verdict per excursion; keeps watching while paused.
public struct TemperatureCriterion: StopCriterion {
    public let name = "temperature"
    public let detectsShort = false
    public let evaluatesWhilePaused = true
    public let maximum_C: Double
    public let hold_s: Double
    public let action: VerdictAction

    private var aboveSince_s: Double?
    private var reported = false

    public init(maximum_C: Double, hold_s: Double, action: VerdictAction) {
        self.maximum_C = maximum_C
        self.hold_s = hold_s
        self.action = action
    }

    public mutating func stepStarted(_ context: StepContext) {}

    public mutating func stepResumed(_ context: StepContext) {}

    public mutating func evaluate(_ sample: InstrumentSample, context: StepContext) -> Verdict? {
        guard let temperature = sample.temperature_C, temperature.isFinite else { return nil }
        guard temperature > maximum_C else {
            aboveSince_s = nil
            reported = false
            return nil
        }
        let since = aboveSince_s ?? sample.time_s
        aboveSince_s = since
        guard !reported, sample.time_s - since >= hold_s else { return nil }
        reported = true
        return Verdict(
            criterion: name, action: action,
            reason: "temperature \(formatNumber(temperature, significantDigits: 4)) C has been above "
                + "\(formatNumber(maximum_C)) C for \(formatNumber(sample.time_s - since, significantDigits: 4)) s",
            time_s: sample.time_s, onsetTime_s: since,
            evidence: ["temperature_C": temperature, "max_C": maximum_C, "hold_s": hold_s, "above_since_s": since])
    }
}

/// Guard: neither electrode may be stripped of more metal than it holds.
///
/// Tracks the net charge taken from each electrode over the run (positive current strips the WE and plates the CE)
/// and converts it to thickness with the metal's micrometres per mAh/cm2. At the first sample of a step with a
/// planned capacity it checks whether the step would go too far, so the guard acts before the damage; on every
/// sample it checks what has actually passed.
public struct MetalInventoryCriterion: StopCriterion {
    public let name = "metal-inventory"
    public let detectsShort = false
    /// Keeps integrating while paused, so the charge of a resumed step is counted from where it was.
    public let evaluatesWhilePaused = true
    public let metal: AnodeMetal
    public let thickness_um: Double
    public let reserve_um: Double
    public let action: VerdictAction

    /// Net areal charge stripped from the WE so far, mAh/cm2 (negative when metal was plated onto it).
    public private(set) var workingStripped_mAh_cm2 = 0.0
    private var previousTime_s: Double?
    private var reportedInStep = false

    public init(metal: AnodeMetal, thickness_um: Double, reserve_um: Double, action: VerdictAction) {
        self.metal = metal
        self.thickness_um = thickness_um
        self.reserve_um = reserve_um
        self.action = action
    }

    /// Areal capacity each electrode may lose before the reserve is reached.
    public var available_mAh_cm2: Double { (thickness_um - reserve_um) / metal.thicknessPerArealCapacity_um }

    public mutating func stepStarted(_ context: StepContext) {
        reportedInStep = false
        previousTime_s = context.startTime_s
    }

    public mutating func stepResumed(_ context: StepContext) {}

    public mutating func evaluate(_ sample: InstrumentSample, context: StepContext) -> Verdict? {
        let interval = max(0, sample.time_s - (previousTime_s ?? sample.time_s))
        previousTime_s = sample.time_s
        workingStripped_mAh_cm2 += sample.current_A * interval / 3.6 / context.area_cm2
        guard !reportedInStep else { return nil }
        let available = available_mAh_cm2
        var projected = workingStripped_mAh_cm2
        var planned = false
        if context.sampleCount == 1, let capacity = context.step.capacity_mAh_cm2, context.step.current_A != 0 {
            let remaining = capacity - context.charge_C / 3.6 / context.area_cm2
            projected += context.step.current_A > 0 ? remaining : -remaining
            planned = true
        }
        let electrode: String
        let taken: Double
        if projected > available {
            (electrode, taken) = ("WE", projected)
        } else if -projected > available {
            (electrode, taken) = ("CE", -projected)
        } else {
            return nil
        }
        reportedInStep = true
        let what = planned ? "the planned step would strip" : "has been stripped of"
        return Verdict(
            criterion: name, action: action,
            reason: "the \(electrode) \(what) \(formatNumber(taken * 1e3, significantDigits: 4)) uAh/cm2 net "
                + "(\(formatNumber(taken * metal.thicknessPerArealCapacity_um, significantDigits: 4)) um of "
                + "\(metal.rawValue)), more than the \(formatNumber(thickness_um)) um it holds less a "
                + "\(formatNumber(reserve_um)) um reserve",
            time_s: sample.time_s, onsetTime_s: sample.time_s,
            currentDensity_mA_cm2: context.step.currentDensity_mA_cm2,
            evidence: [
                "stripped_mAh_cm2": taken, "available_mAh_cm2": available, "thickness_um": thickness_um,
                "reserve_um": reserve_um, "um_per_mAh_cm2": metal.thicknessPerArealCapacity_um,
                "projected": planned ? 1 : 0,
            ])
    }
}
