public import Domain
import Foundation

/// A physics-based simulated metal | solid electrolyte | metal cell (symmetric or three-electrode).
///
/// The cell voltage is the electrolyte's ohmic drop plus the sinh-law overpotential of each interface on its real
/// contact area. Contact shrinks while an electrode is stripped faster than creep resupplies metal (voiding) and
/// recovers on plating and at rest; dendrites initiate when the local plating current density exceeds the critical
/// value and grow into intermittent (soft) and then permanent (hard) shorts. Nucleation and relaxation transients,
/// stack pressure and temperature, and seeded measurement noise complete the readings. The model never reads a
/// clock: the same parameters and inputs always give the same readings.
public struct PhysicsCell: CellModel {
    public let parameters: PhysicsCellParameters
    public private(set) var groundTruth: [GroundTruthEvent] = []
    /// Cell time at the end of the last `advance`, s.
    public private(set) var time_s: Double = 0

    private var working: ElectrodeState
    private var counter: ElectrodeState
    private var dendrite: DendriteState?
    private var shortCondition = ShortCondition.none
    private var softShortResistance_Ohm_cm2: Double
    /// Share of the applied current that passed through the electrolyte in the last interval.
    private var ionicFraction = 1.0
    private var random: SeededRandomSource
    /// The impedance analyser's own noise, apart from `random` so a spectrum leaves the DC readings' noise as it was.
    var impedanceRandom: SeededRandomSource
    private var voltageDrift_V = 0.0
    private var pressureDrift_MPa = 0.0
    private var truePressure_MPa: Double
    private var pressureSetpoint_MPa: Double
    private var temperatureSetpoint_C: Double
    private var kinetics: TemperatureDependentConstants
    private var decay = IntervalDecayFactors()
    /// Readings left in the present burst of disturbed readings.
    private var burstLeft = 0

    public init(parameters: PhysicsCellParameters) {
        self.parameters = parameters
        working = ElectrodeState(metalThickness_um: parameters.metalThickness_um)
        counter = ElectrodeState(metalThickness_um: parameters.metalThickness_um)
        softShortResistance_Ohm_cm2 = parameters.softShortResistance_Ohm_cm2
        random = SeededRandomSource(seed: parameters.seed)
        impedanceRandom = SeededRandomSource(seed: parameters.seed ^ 0x5A17_C0DE_1A5E_ED00)
        truePressure_MPa = parameters.stackPressure_MPa
        pressureSetpoint_MPa = parameters.stackPressure_MPa
        temperatureSetpoint_C = parameters.temperature_C
        kinetics = TemperatureDependentConstants(parameters: parameters, temperature_C: parameters.temperature_C)
    }

    /// A cell from a named preset with numeric overrides by parameter name (see `PhysicsCellParameters.catalogue`).
    public init(preset name: String, overrides: [String: Double] = [:]) throws(PhysicsParameterError) {
        var chosen = try PhysicsCellParameters.preset(named: name)
        for key in overrides.keys.sorted() {
            try chosen.override(key, with: overrides[key]!)
        }
        self.init(parameters: chosen)
    }

    /// Changes the stack-pressure setpoint; the true pressure follows with the clamp's relaxation time.
    public mutating func setStackPressureSetpoint(_ pressure_MPa: Double) {
        pressureSetpoint_MPa = max(pressure_MPa, 0)
    }

    /// The temperature the cell is held at (the rig's, or the latest a heater gave it).
    public var heldTemperature_C: Double? { temperatureSetpoint_C }

    /// Changes the temperature setpoint; kinetics and conductivity follow at once (Arrhenius).
    public mutating func setTemperatureSetpoint(_ temperature_C: Double) {
        temperatureSetpoint_C = temperature_C
        kinetics = TemperatureDependentConstants(parameters: parameters, temperature_C: temperature_C)
    }

    public mutating func advance(by interval_s: Double, current_A: Double) -> CellReading {
        let interval = interval_s > 0 ? interval_s : 0
        time_s += interval
        if interval != decay.interval_s {
            decay = IntervalDecayFactors(interval_s: interval, parameters: parameters)
        }
        let area = parameters.electrodeArea_cm2
        let appliedDensity_A_cm2 = current_A / area
        let ionicDensity_A_cm2 = appliedDensity_A_cm2 * ionicFraction
        let ionicDensity_mA_cm2 = ionicDensity_A_cm2 * 1000
        let appliedDensity_mA_cm2 = abs(appliedDensity_A_cm2 * 1000)

        let pressure = PressureDependentRates(parameters: parameters, pressure_MPa: truePressure_MPa)
        var workingNow = working
        evolveElectrode(
            &workingNow, .working, anodicDensity_mA_cm2: ionicDensity_mA_cm2, nominal_mA_cm2: appliedDensity_mA_cm2,
            interval_s: interval, rates: pressure)
        working = workingNow
        var counterNow = counter
        evolveElectrode(
            &counterNow, .counter, anodicDensity_mA_cm2: -ionicDensity_mA_cm2, nominal_mA_cm2: appliedDensity_mA_cm2,
            interval_s: interval, rates: pressure)
        counter = counterNow
        evolveDendrite(appliedDensity_mA_cm2: appliedDensity_A_cm2 * 1000, interval_s: interval)
        evolvePressure(ionicDensity_mA_cm2: ionicDensity_mA_cm2, interval_s: interval)

        let voltages = solveVoltages(
            appliedDensity_A_cm2: appliedDensity_A_cm2, contactConductance: pressure.contactConductance)
        return measure(current_A: current_A, voltages: voltages)
    }

    /// The hidden state now (contact, dendrite, short, true pressure and temperature, element resistances).
    public var state: PhysicsCellState {
        let resistances = elementResistances_Ohm_cm2()
        let area = parameters.electrodeArea_cm2
        return PhysicsCellState(
            time_s: time_s,
            workingContactFraction: working.contact,
            counterContactFraction: counter.contact,
            dendritePenetration: dendrite?.penetration ?? 0,
            dendriteElectrode: dendrite?.electrode,
            short: shortCondition,
            stackPressure_MPa: truePressure_MPa,
            temperature_C: trueTemperature_C,
            workingMetalThickness_um: working.metalThickness_um,
            counterMetalThickness_um: counter.metalThickness_um,
            bulkResistance_Ohm: resistances.bulk / area,
            workingInterfaceResistance_Ohm: resistances.working / area,
            counterInterfaceResistance_Ohm: resistances.counter / area
        )
    }

    // MARK: - Interfaces: voiding, recovery, nucleation, dendrite incubation

    private mutating func evolveElectrode(
        _ electrode: inout ElectrodeState, _ identity: CellElectrode, anodicDensity_mA_cm2 density: Double,
        nominal_mA_cm2: Double, interval_s: Double, rates: PressureDependentRates
    ) {
        let passedCharge_mAh_cm2 = density * interval_s / 3600
        electrode.metalThickness_um -= passedCharge_mAh_cm2 * parameters.metal.thicknessPerArealCapacity_um
        if density > 0 {
            electrode.platingElapsed_s = nil
            electrode.incubationCharge_mAh_cm2 = 0
            let excess = density - rates.voidingCurrentDensity_mA_cm2
            if excess > 0 {
                let damage = 1 - exp(-electrode.damageCharge_mAh_cm2 / parameters.voidDamageCharge_mAh_cm2)
                let lossRate =
                    parameters.voidGrowthRate_per_s * (excess / rates.voidingCurrentDensity_mA_cm2)
                    * (1 + parameters.voidDamageGain * damage)
                electrode.contact *= exp(-lossRate * interval_s)
                electrode.damageCharge_mAh_cm2 += passedCharge_mAh_cm2
                if !electrode.hasVoided {
                    electrode.hasVoided = true
                    record(.voidingOnset, identity, nominal_mA_cm2)
                }
            } else {
                electrode.recover(rate_per_s: rates.creepRecovery_per_s, interval_s: interval_s)
            }
            if electrode.metalThickness_um <= 0 {
                // Stripped bare: what remains of the contact disappears within seconds.
                electrode.contact *= exp(-interval_s)
            }
            electrode.contact = max(electrode.contact, parameters.minimumContactFraction)
        } else if density < 0 {
            let plating_mA_cm2 = -density
            if electrode.platingElapsed_s == nil { startNucleation(&electrode, density_mA_cm2: plating_mA_cm2) }
            electrode.platingElapsed_s = (electrode.platingElapsed_s ?? 0) + interval_s
            let fillRate = plating_mA_cm2 / (3600 * parameters.voidFillCharge_mAh_cm2)
            electrode.recover(rate_per_s: rates.creepRecovery_per_s + fillRate, interval_s: interval_s)
            let local_mA_cm2 = plating_mA_cm2 / electrode.contact
            if local_mA_cm2 >= parameters.dendriteCCD_mA_cm2 * (1 - 1e-9) {
                electrode.incubationCharge_mAh_cm2 += plating_mA_cm2 * interval_s / 3600
                if dendrite == nil, electrode.incubationCharge_mAh_cm2 >= parameters.dendriteIncubationCharge_mAh_cm2 {
                    dendrite = DendriteState(electrode: identity)
                    record(.dendriteInitiation, identity, nominal_mA_cm2)
                }
            } else {
                electrode.incubationCharge_mAh_cm2 = 0
            }
        } else {
            electrode.platingElapsed_s = nil
            electrode.incubationCharge_mAh_cm2 = 0
            electrode.recover(rate_per_s: rates.creepRecovery_per_s, interval_s: interval_s)
        }
    }

    // MARK: - Dendrite growth and shorts

    private mutating func evolveDendrite(appliedDensity_mA_cm2 applied: Double, interval_s: Double) {
        guard var growing = dendrite else { return }
        defer { dendrite = growing }
        let nominal = abs(applied)
        // Positive when the dendrite's own electrode is being plated.
        let platingAtOrigin = growing.electrode == .working ? -applied * ionicFraction : applied * ionicFraction
        if growing.penetration < 1 {
            guard platingAtOrigin > 0 else { return }
            let contact = growing.electrode == .working ? working.contact : counter.contact
            let localRatio = platingAtOrigin / contact / parameters.dendriteCCD_mA_cm2
            growing.penetration = min(
                1, growing.penetration + localRatio * interval_s / parameters.dendriteCrossingTime_s)
            if growing.penetration >= 1 {
                shortCondition = .softConnected
                softShortResistance_Ohm_cm2 = parameters.softShortResistance_Ohm_cm2
                record(.softShort, growing.electrode, nominal)
            }
            return
        }
        guard shortCondition != .hard else { return }
        // The filament thickens with the charge driven towards its electrode, whichever path it takes.
        let drivenAtOrigin = growing.electrode == .working ? -applied : applied
        if drivenAtOrigin > 0 {
            growing.chargeSinceSoftShort_mAh_cm2 += nominal * interval_s / 3600
        }
        if growing.chargeSinceSoftShort_mAh_cm2 >= parameters.hardShortCharge_mAh_cm2 {
            shortCondition = .hard
            record(.hardShort, growing.electrode, nominal)
        } else {
            flickerSoftShort(interval_s: interval_s)
        }
    }

    /// The soft short connects and breaks at random (a telegraph process), with a new resistance each time.
    private mutating func flickerSoftShort(interval_s: Double) {
        switch shortCondition {
        case .softConnected:
            let breakProbability = 1 - exp(-parameters.softShortBreakRate_per_s * interval_s)
            if random.nextUniform() < breakProbability { shortCondition = .softBroken }
        case .softBroken:
            let connectProbability = 1 - exp(-parameters.softShortConnectRate_per_s * interval_s)
            if random.nextUniform() < connectProbability {
                shortCondition = .softConnected
                softShortResistance_Ohm_cm2 =
                    parameters.softShortResistance_Ohm_cm2 * exp(random.nextUniform() * log(5))
            }
        case .none, .hard:
            break
        }
    }

    // MARK: - Environment

    private var trueTemperature_C: Double {
        let amplitude = parameters.temperatureOscillation_C
        guard amplitude > 0 else { return temperatureSetpoint_C }
        return temperatureSetpoint_C + amplitude * sin(2 * Double.pi * time_s / parameters.temperaturePeriod_s)
    }

    private mutating func evolvePressure(ionicDensity_mA_cm2: Double, interval_s: Double) {
        let platedOnWorking_um =
            -ionicDensity_mA_cm2 * interval_s / 3600 * parameters.metal.thicknessPerArealCapacity_um
        truePressure_MPa =
            pressureSetpoint_MPa + (truePressure_MPa - pressureSetpoint_MPa) * decay.pressureRelaxation
            + parameters.pressurePerMetalThickness_MPa_um * platedOnWorking_um
        truePressure_MPa = max(truePressure_MPa, 1e-3)
    }

    // MARK: - Voltages

    /// Area-specific effective contact of an electrode, including the area a dendrite adds to its origin.
    private func effectiveContact(_ identity: CellElectrode) -> Double {
        let contact = identity == .working ? working.contact : counter.contact
        guard let growing = dendrite, growing.electrode == identity, growing.penetration > 0 else { return contact }
        return contact * (1 + parameters.dendriteAreaGain * growing.penetration.squareRoot())
    }

    private var bulkResistance_Ohm_cm2: Double {
        kinetics.bulkResistance_Ohm_cm2 * (1 - parameters.dendriteBulkShortening * (dendrite?.penetration ?? 0))
    }

    private var shortConductance_S_cm2: Double {
        switch shortCondition {
        case .none, .softBroken: 0
        case .softConnected: 1 / softShortResistance_Ohm_cm2
        case .hard: 1 / parameters.hardShortResistance_Ohm_cm2
        }
    }

    private mutating func solveVoltages(appliedDensity_A_cm2 applied: Double, contactConductance: Double)
        -> CellVoltages
    {
        let exchange_A_cm2 = kinetics.exchangeCurrent_A_cm2 * contactConductance
        let interfaces = InterfaceLaw(
            beta_per_V: kinetics.beta_per_V, exchangeCurrent_A_cm2: exchange_A_cm2,
            workingContact: effectiveContact(.working), counterContact: effectiveContact(.counter))
        let bulk = bulkResistance_Ohm_cm2
        let fastShare = 1 - parameters.relaxationFraction - parameters.slowRelaxationFraction

        // The slow share of each interfacial overpotential relaxes towards its steady value.
        let estimate = applied * ionicFraction
        let workingSteady = interfaces.workingOverpotential(estimate)
        let counterSteady = interfaces.counterOverpotential(-estimate)
        working.relaxSlowPolarisation(towards: parameters.relaxationFraction * workingSteady, decay: decay.relaxation)
        counter.relaxSlowPolarisation(towards: parameters.relaxationFraction * counterSteady, decay: decay.relaxation)
        if parameters.slowRelaxationFraction > 0 {
            let share = parameters.slowRelaxationFraction
            working.relaxSlowerPolarisation(towards: share * workingSteady, decay: decay.slowRelaxation)
            counter.relaxSlowerPolarisation(towards: share * counterSteady, decay: decay.slowRelaxation)
        }

        let workingOffset =
            working.slowPolarisation_V + working.slowerPolarisation_V + nucleationOverpotential(working)
        let counterOffset =
            counter.slowPolarisation_V + counter.slowerPolarisation_V + nucleationOverpotential(counter)
        let offset = workingOffset - counterOffset
        let conductance = shortConductance_S_cm2

        var ionic = applied
        var cellVoltage: Double
        if conductance == 0 {
            cellVoltage = offset + applied * bulk + fastShare * (workingSteady - counterSteady)
        } else {
            // Electrolyte branch linearised by its chord resistance, in parallel with the short; one refinement.
            var chord = bulk + fastShare * interfaces.chordResistance(estimate)
            cellVoltage = (offset + chord * applied) / (1 + chord * conductance)
            ionic = applied - cellVoltage * conductance
            chord = bulk + fastShare * interfaces.chordResistance(ionic)
            cellVoltage = (offset + chord * applied) / (1 + chord * conductance)
            ionic = applied - cellVoltage * conductance
        }
        ionicFraction = applied != 0 ? ionic / applied : 1

        var referenceVoltage: Double?
        if parameters.isThreeElectrode {
            let workingNow = ionic == estimate ? workingSteady : interfaces.workingOverpotential(ionic)
            referenceVoltage = ionic * bulk * parameters.referenceBulkShare + fastShare * workingNow + workingOffset
        }
        return CellVoltages(cell_V: cellVoltage, workingToReference_V: referenceVoltage)
    }

    /// Sets the nucleation overpotential of an electrode that begins plating: larger at low current when
    /// `nucleationCurrentExponent` is positive, and its own size and time on the electrode's first plating.
    private func startNucleation(_ electrode: inout ElectrodeState, density_mA_cm2: Double) {
        let first = !electrode.hasPlated && parameters.firstNucleationOverpotential_V > 0
        let base = first ? parameters.firstNucleationOverpotential_V : parameters.nucleationOverpotential_V
        let time =
            first && parameters.firstNucleationTime_s > 0
            ? parameters.firstNucleationTime_s : parameters.nucleationTime_s
        var amplitude = base
        if parameters.nucleationCurrentExponent != 0 {
            amplitude = min(1, base * pow(max(density_mA_cm2, 1e-6), -parameters.nucleationCurrentExponent))
        }
        electrode.nucleationAmplitude_V = amplitude
        electrode.nucleationTime_s = time
        electrode.hasPlated = true
    }

    /// The extra (negative) overpotential of an electrode that has just begun plating.
    private func nucleationOverpotential(_ electrode: ElectrodeState) -> Double {
        guard let elapsed = electrode.platingElapsed_s, electrode.nucleationAmplitude_V > 0 else { return 0 }
        let scaled = elapsed / electrode.nucleationTime_s
        guard scaled < 40 else { return 0 }
        return -electrode.nucleationAmplitude_V * exp(-scaled)
    }

    /// Linear-regime resistances (bulk, WE interface, CE interface) now, Ohm cm2.
    func elementResistances_Ohm_cm2() -> (bulk: Double, working: Double, counter: Double) {
        let rates = PressureDependentRates(parameters: parameters, pressure_MPa: truePressure_MPa)
        let chargeTransfer = 1 / (kinetics.beta_per_V * kinetics.exchangeCurrent_A_cm2 * rates.contactConductance)
        return (
            bulkResistance_Ohm_cm2, chargeTransfer / effectiveContact(.working),
            chargeTransfer / effectiveContact(.counter)
        )
    }

    /// Electronic short conductance now, S per cm2 of electrode (0 when there is none).
    var shortConductanceNow_S_cm2: Double { shortConductance_S_cm2 }

    // MARK: - Instruments

    private mutating func measure(current_A: Double, voltages: CellVoltages) -> CellReading {
        if parameters.voltageDrift_V > 0 {
            voltageDrift_V =
                voltageDrift_V * decay.voltageDrift + parameters.voltageDrift_V * decay.voltageDriftInnovation
                * random.nextNormal()
        }
        var disturbance = voltageDrift_V
        if parameters.voltageNoise_V > 0 { disturbance += parameters.voltageNoise_V * random.nextNormal() }
        if parameters.voltageSpikeProbability > 0, random.nextUniform() < parameters.voltageSpikeProbability {
            let size = parameters.voltageSpikeAmplitude_V * (0.5 + 0.5 * random.nextUniform())
            disturbance += random.nextUniform() < 0.5 ? -size : size
        }
        if parameters.voltageBurstProbability > 0 {
            if burstLeft == 0, random.nextUniform() < parameters.voltageBurstProbability {
                burstLeft = 2 + Int(random.nextUniform() * 5)
            }
            if burstLeft > 0 {
                burstLeft -= 1
                let size = parameters.voltageSpikeAmplitude_V * random.nextUniform()
                disturbance += random.nextUniform() < 0.5 ? -size : size
            }
        }
        if shortCondition == .softConnected || shortCondition == .softBroken, parameters.softShortNoise_V > 0 {
            disturbance += parameters.softShortNoise_V * random.nextNormal()
        }
        let cellVoltage = quantise(voltages.cell_V + disturbance, step: parameters.voltageResolution_V)

        var referenceVoltage: Double?
        if let workingToReference = voltages.workingToReference_V {
            var referenceDisturbance = voltageDrift_V
            if parameters.voltageNoise_V > 0 { referenceDisturbance += parameters.voltageNoise_V * random.nextNormal() }
            referenceVoltage = quantise(workingToReference + referenceDisturbance, step: parameters.voltageResolution_V)
        }

        if parameters.pressureDrift_MPa > 0 {
            pressureDrift_MPa =
                pressureDrift_MPa * decay.pressureDrift + parameters.pressureDrift_MPa * decay.pressureDriftInnovation
                * random.nextNormal()
        }
        var pressure = truePressure_MPa + pressureDrift_MPa
        if parameters.pressureNoise_MPa > 0 { pressure += parameters.pressureNoise_MPa * random.nextNormal() }

        var temperature = trueTemperature_C
        if parameters.temperatureNoise_C > 0 { temperature += parameters.temperatureNoise_C * random.nextNormal() }

        return CellReading(
            time_s: time_s, current_A: current_A, voltage_V: cellVoltage, voltageWERE_V: referenceVoltage,
            pressure_MPa: quantise(pressure, step: parameters.pressureResolution_MPa),
            temperature_C: quantise(temperature, step: parameters.temperatureResolution_C))
    }

    private func quantise(_ value: Double, step: Double) -> Double {
        step > 0 ? (value / step).rounded() * step : value
    }

    private mutating func record(_ kind: GroundTruthEvent.Kind, _ electrode: CellElectrode, _ density_mA_cm2: Double) {
        groundTruth.append(
            GroundTruthEvent(
                kind: kind, time_s: time_s, electrode: electrode.rawValue, currentDensity_mA_cm2: density_mA_cm2))
    }
}

// MARK: - Internal state and helpers

/// What one electrode remembers between intervals.
private struct ElectrodeState: Sendable, Hashable {
    var contact = 1.0
    /// Charge stripped above the voiding current so far; grows the void-nucleation damage.
    var damageCharge_mAh_cm2 = 0.0
    var slowPolarisation_V = 0.0
    var slowerPolarisation_V = 0.0
    /// Time since this electrode began plating; nil while it is not plating.
    var platingElapsed_s: Double?
    /// Size and decay time of the nucleation overpotential of the present plating.
    var nucleationAmplitude_V = 0.0
    var nucleationTime_s = 1.0
    var hasPlated = false
    /// Charge plated at or above the critical local density in the current over-critical spell.
    var incubationCharge_mAh_cm2 = 0.0
    var metalThickness_um: Double
    var hasVoided = false

    init(metalThickness_um: Double) {
        self.metalThickness_um = metalThickness_um
    }

    /// Contact approaches full contact exponentially at the given rate.
    mutating func recover(rate_per_s: Double, interval_s: Double) {
        contact = 1 - (1 - contact) * exp(-rate_per_s * interval_s)
    }

    mutating func relaxSlowPolarisation(towards target: Double, decay: Double) {
        slowPolarisation_V = target + (slowPolarisation_V - target) * decay
    }

    mutating func relaxSlowerPolarisation(towards target: Double, decay: Double) {
        slowerPolarisation_V = target + (slowerPolarisation_V - target) * decay
    }
}

private struct DendriteState: Sendable, Hashable {
    let electrode: CellElectrode
    var penetration = 0.0
    var chargeSinceSoftShort_mAh_cm2 = 0.0
}

private struct CellVoltages {
    var cell_V: Double
    var workingToReference_V: Double?
}

/// The sinh interface law on each electrode's real contact area: eta = asinh(i / (contact * i0)) / beta.
private struct InterfaceLaw {
    let beta_per_V: Double
    let exchangeCurrent_A_cm2: Double
    let workingContact: Double
    let counterContact: Double

    /// Overpotential of an electrode for its anodic (stripping-positive) nominal current density.
    func overpotential(_ anodic_A_cm2: Double, contact: Double) -> Double {
        asinh(anodic_A_cm2 / (contact * exchangeCurrent_A_cm2)) / beta_per_V
    }

    func workingOverpotential(_ anodic_A_cm2: Double) -> Double {
        overpotential(anodic_A_cm2, contact: workingContact)
    }

    func counterOverpotential(_ anodic_A_cm2: Double) -> Double {
        overpotential(anodic_A_cm2, contact: counterContact)
    }

    /// (eta_WE(i) - eta_CE(-i)) / i, the interfaces' chord resistance in Ohm cm2 (linear limit at i = 0).
    func chordResistance(_ current_A_cm2: Double) -> Double {
        let linear = 1 / (beta_per_V * exchangeCurrent_A_cm2)
        guard abs(current_A_cm2) > 1e-12 else { return linear / workingContact + linear / counterContact }
        return (workingOverpotential(current_A_cm2) - counterOverpotential(-current_A_cm2)) / current_A_cm2
    }
}

/// Constants that depend on temperature only, recomputed when the setpoint changes.
private struct TemperatureDependentConstants: Sendable, Hashable {
    let beta_per_V: Double
    /// Exchange current density at the reference pressure, A/cm2.
    let exchangeCurrent_A_cm2: Double
    let bulkResistance_Ohm_cm2: Double

    init(parameters: PhysicsCellParameters, temperature_C: Double) {
        let faradayOverGas = 96_485.332 / 8.314_462
        let boltzmann_eV_K = 8.617_333e-5
        let temperature_K = temperature_C + 273.15
        let reference_K = parameters.referenceTemperature_C + 273.15
        let referenceBeta = parameters.chargeTransferAlpha * faradayOverGas / reference_K
        let referenceExchange = 1 / (parameters.interfacialResistance_Ohm_cm2 * referenceBeta)
        let inverseTemperatureShift = 1 / temperature_K - 1 / reference_K
        beta_per_V = parameters.chargeTransferAlpha * faradayOverGas / temperature_K
        exchangeCurrent_A_cm2 =
            referenceExchange * exp(-parameters.interfaceActivationEnergy_eV / boltzmann_eV_K * inverseTemperatureShift)
        bulkResistance_Ohm_cm2 =
            parameters.effectiveBulkResistance_Ohm_cm2
            * exp(parameters.bulkActivationEnergy_eV / boltzmann_eV_K * inverseTemperatureShift)
    }
}

/// Rates that follow the true stack pressure: creep supply (voiding threshold, recovery) and contact conductance.
private struct PressureDependentRates {
    let voidingCurrentDensity_mA_cm2: Double
    let creepRecovery_per_s: Double
    /// Interfacial conductance relative to the reference pressure (Holm: p^0.5).
    let contactConductance: Double

    init(parameters: PhysicsCellParameters, pressure_MPa: Double) {
        let logRatio = log(pressure_MPa / parameters.referencePressure_MPa)
        voidingCurrentDensity_mA_cm2 =
            parameters.voidingCurrentDensity_mA_cm2 * exp(parameters.voidingPressureExponent * logRatio)
        creepRecovery_per_s = exp(parameters.creepPressureExponent * logRatio) / parameters.creepRecoveryTime_s
        contactConductance = exp(parameters.contactPressureExponent * logRatio)
    }
}

/// exp(-interval / tau) for every fixed time constant, cached for the last interval used.
private struct IntervalDecayFactors: Sendable {
    var interval_s = -1.0
    var relaxation = 1.0
    var slowRelaxation = 1.0
    var pressureRelaxation = 1.0
    var voltageDrift = 1.0
    var voltageDriftInnovation = 0.0
    var pressureDrift = 1.0
    var pressureDriftInnovation = 0.0

    init() {}

    init(interval_s: Double, parameters: PhysicsCellParameters) {
        self.interval_s = interval_s
        relaxation = exp(-interval_s / parameters.relaxationTime_s)
        slowRelaxation = exp(-interval_s / parameters.slowRelaxationTime_s)
        pressureRelaxation = exp(-interval_s / parameters.pressureRelaxationTime_s)
        voltageDrift = exp(-interval_s / parameters.voltageDriftTime_s)
        voltageDriftInnovation = (1 - voltageDrift * voltageDrift).squareRoot()
        pressureDrift = exp(-interval_s / parameters.pressureDriftTime_s)
        pressureDriftInnovation = (1 - pressureDrift * pressureDrift).squareRoot()
    }
}
