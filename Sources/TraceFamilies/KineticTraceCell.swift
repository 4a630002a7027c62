public import Domain
import Foundation

/// The `kinetic` trace family: a metal | electrolyte | metal cell from electrochemical kinetics written apart from
/// the simulator's.
///
/// Each interface follows Butler-Volmer with asymmetric transfer coefficients, the plating side adds a limiting
/// current's concentration overpotential, and the electrolyte is ohmic. After a current change the charge-transfer
/// part builds with the double layer's time constant, and a diffusion-like part builds and decays as
/// `1 - (1 + t/tau)^-1/2`. An electrode that starts plating shows a nucleation overpotential that rises within
/// seconds and decays as a stretched exponential, hundreds of mV over up to half an hour at 0.05 mA/cm2 the first
/// time, a fraction of that on later platings. Resistances drift linearly (either way) and cycle with the room
/// temperature. Readings carry white, proportional, 1/f (Voss-McCartney) and telegraph noise, isolated glitches and
/// bursts, and are rounded to the instrument's resolution. A short is an electronic conductance beside the
/// electrolyte; the current divides between the two and the voltage is solved on the nonlinear kinetics.
public struct KineticTraceCell: TraceCell {
    /// Everything drawn from the seed.
    public struct Draw: Sendable, Hashable {
        public var bulkResistance_Ohm_cm2: Double
        public var workingExchange_mA_cm2: Double
        public var counterExchange_mA_cm2: Double
        public var anodicAlpha: Double
        public var cathodicAlpha: Double
        public var temperature_K: Double
        public var limitingCurrent_mA_cm2: Double
        public var doubleLayerTime_s: Double
        public var diffusionShare: Double
        public var diffusionTime_s: Double
        /// Nucleation overpotential of an electrode's first plating at 0.05 mA/cm2, and how it scales with current.
        public var nucleationAtLowCurrent_V: Double
        public var nucleationCurrentExponent: Double
        public var nucleationTimeAtLowCurrent_s: Double
        public var nucleationTimeExponent: Double
        public var nucleationStretch: Double
        public var nucleationRise_s: Double
        public var repeatNucleationShare: Double
        public var repeatNucleationTimeShare: Double
        public var driftPerHour: Double
        public var cyclingAmplitude: Double
        public var cyclingPeriod_s: Double
        public var cyclingPhase: Double
        public var whiteNoise_V: Double
        public var proportionalNoise: Double
        public var pinkNoise_V: Double
        public var telegraph_V: Double
        public var telegraphRate_per_s: Double
        public var glitchProbability: Double
        public var burstProbability: Double
        public var glitchSmallest_V: Double
        public var glitchLargest_V: Double

        init(random: inout TraceRandom, options: TraceCellOptions) {
            bulkResistance_Ohm_cm2 = random.logUniform(5...150)
            workingExchange_mA_cm2 = random.logUniform(0.2...20)
            counterExchange_mA_cm2 = workingExchange_mA_cm2 * random.logUniform(0.5...2)
            anodicAlpha = random.uniform(0.3...0.7)
            cathodicAlpha = min(0.9, max(0.2, 1 - anodicAlpha + random.uniform(-0.25...0.25)))
            temperature_K = random.uniform(293...333)
            limitingCurrent_mA_cm2 = (options.criticalCurrentDensity_mA_cm2 ?? 5) * random.uniform(3...12)
            doubleLayerTime_s = random.logUniform(0.05...1.5)
            diffusionShare = random.uniform(0...0.3)
            diffusionTime_s = random.logUniform(5...600)
            nucleationAtLowCurrent_V = random.uniform(0.1...0.85)
            nucleationCurrentExponent = random.uniform(0.3...1)
            nucleationTimeAtLowCurrent_s = random.logUniform(60...1800)
            nucleationTimeExponent = random.uniform(0.3...1)
            nucleationStretch = random.uniform(0.35...0.9)
            nucleationRise_s = random.logUniform(0.2...5)
            repeatNucleationShare = random.logUniform(0.03...0.4)
            repeatNucleationTimeShare = random.uniform(0.2...1)
            driftPerHour = random.uniform(-0.15...0.15)
            cyclingAmplitude = random.uniform(0...0.02)
            cyclingPeriod_s = random.uniform(900...3600)
            cyclingPhase = random.uniform(0...(2 * Double.pi))
            whiteNoise_V = random.logUniform(1e-5...2e-4)
            proportionalNoise = random.uniform(0...2e-4)
            pinkNoise_V = whiteNoise_V * random.uniform(0...2)
            telegraph_V = random.chance(0.5) ? whiteNoise_V * random.uniform(0.5...3) : 0
            telegraphRate_per_s = random.logUniform(1e-3...0.1)
            glitchProbability = [0, 1e-4, 1e-3][random.index(3)]
            burstProbability = random.chance(0.5) ? random.logUniform(1e-5...1e-4) : 0
            glitchSmallest_V = 3e-4
            glitchLargest_V = 0.03
        }
    }

    public let options: TraceCellOptions
    public let draw: Draw
    public private(set) var time_s = 0.0
    public var shortOnset_s: Double? { schedule.onset_s }
    public var electrolyteResistance_Ohm_cm2: Double { draw.bulkResistance_Ohm_cm2 }

    private var random: TraceRandom
    private let thermalVoltage_V: Double

    // The present step and what the previous one left behind (signed volts).
    private var stepCurrent_A = 0.0
    private var stepStart_s = 0.0
    private var leftFast_V = 0.0
    private var leftDiffusion_V = 0.0
    private var latestFast_V = 0.0
    private var latestDiffusion_V = 0.0
    private var platingElectrode: Int?
    private var hasPlated = [false, false]
    private var nucleation: (amplitude_V: Double, time_s: Double)?
    private var schedule: ShortSchedule

    // Noise.
    private var pinkRows = [Double](repeating: 0, count: 12)
    private var pinkSum = 0.0
    private var sampleIndex: UInt64 = 0
    private var telegraphHigh = false
    private var burstLeft = 0

    // The short, once it began.
    private var short: KineticShort?

    public init(options: TraceCellOptions) {
        self.options = options
        schedule = ShortSchedule(options: options)
        var random = TraceRandom(seed: options.seed, stream: 0x6B69_6E65_7469_63)
        draw = Draw(random: &random, options: options)
        thermalVoltage_V = 8.314_462 * draw.temperature_K / 96_485.332
        for row in pinkRows.indices { pinkRows[row] = random.normal() }
        pinkSum = pinkRows.reduce(0, +)
        self.random = random
    }

    public mutating func advance(by interval_s: Double, current_A: Double) -> InstrumentSample {
        let interval = max(0, interval_s)
        let previousTime = time_s
        time_s += interval
        if current_A != stepCurrent_A { beginStep(current_A: current_A, at: previousTime) }
        let density = abs(current_A) * 1000 / options.area_cm2
        let sign: Double = current_A < 0 ? -1 : 1
        startShortIfDue(density: density, current_A: current_A, interval_s: interval)

        let since = time_s - stepStart_s
        var magnitude = healthyMagnitude(ionicDensity: density, since: since)
        var ionic = density
        if var process = short, density > 0 {
            let fall = process.fall(at: time_s, random: &random)
            short = process
            if fall > 0 {
                let chord = max(magnitude, 1e-6) / density
                let conductance = fall / ((1 - fall) * chord)
                ionic = ionicDensity(applied: density, conductance: conductance, since: since)
                magnitude = healthyMagnitude(ionicDensity: ionic, since: since)
            }
        }
        remember(ionicDensity: ionic, since: since, sign: sign)
        let left =
            leftFast_V * exp(-since / draw.doubleLayerTime_s) + leftDiffusion_V
            / (1 + since / draw.diffusionTime_s).squareRoot()
        let voltage = (current_A == 0 ? 0 : sign * magnitude) + left
        let measured = voltage + disturbance(level: abs(voltage), interval_s: interval)

        var referenceVoltage: Double?
        if options.threeElectrode {
            let working = workingPart(ionicDensity: ionic, since: since)
            referenceVoltage = quantised(
                (current_A == 0 ? 0 : sign * working) + 0.3 * left + draw.whiteNoise_V * random.normal(),
                resolution: options.voltageResolution_V)
        }
        sampleIndex += 1
        return InstrumentSample(
            time_s: time_s, current_A: current_A,
            voltage_V: quantised(measured, resolution: options.voltageResolution_V),
            voltageWERE_V: referenceVoltage)
    }

    // MARK: - Steps and transients

    private mutating func beginStep(current_A: Double, at time: Double) {
        leftFast_V = latestFast_V
        leftDiffusion_V = latestDiffusion_V
        stepCurrent_A = current_A
        stepStart_s = time
        schedule.stepStarted()
        let plating: Int? = current_A < 0 ? 0 : current_A > 0 ? 1 : nil
        defer { platingElectrode = plating }
        guard let plating, plating != platingElectrode else {
            if plating == nil { nucleation = nil }
            return
        }
        let density = abs(current_A) * 1000 / options.area_cm2
        let ratio = 0.05 / max(density, 1e-9)
        var amplitude = draw.nucleationAtLowCurrent_V * pow(ratio, draw.nucleationCurrentExponent)
        var duration = draw.nucleationTimeAtLowCurrent_s * pow(ratio, draw.nucleationTimeExponent)
        if hasPlated[plating] {
            amplitude *= draw.repeatNucleationShare
            duration *= draw.repeatNucleationTimeShare
        }
        hasPlated[plating] = true
        nucleation = (min(max(amplitude, 2e-4), 0.9), min(max(duration, 1), 3600))
    }

    /// The nucleation overpotential now: a rise over a few seconds times a stretched-exponential decay.
    private func nucleation_V(since: Double) -> Double {
        guard let nucleation else { return 0 }
        let decay = exp(-pow(since / nucleation.time_s, draw.nucleationStretch))
        return nucleation.amplitude_V * (1 - exp(-since / draw.nucleationRise_s)) * decay
    }

    private var interfaceDrift: Double {
        let cycling = 1 + draw.cyclingAmplitude * sin(2 * Double.pi * time_s / draw.cyclingPeriod_s + draw.cyclingPhase)
        return max(0.2, 1 + draw.driftPerHour * time_s / 3600) * cycling
    }

    private var bulkDrift: Double {
        1 + 0.7 * draw.cyclingAmplitude * sin(2 * Double.pi * time_s / draw.cyclingPeriod_s + draw.cyclingPhase)
    }

    /// |V| of the healthy cell carrying `ionicDensity` (mA/cm2) through its electrolyte, `since` into the step,
    /// without what the previous step left behind.
    private func healthyMagnitude(ionicDensity density: Double, since: Double) -> Double {
        guard density > 0 else { return 0 }
        let steady = steadyInterfaces(density)
        let build = 1 - exp(-since / draw.doubleLayerTime_s)
        let diffusion = draw.diffusionShare * steady * (1 - 1 / (1 + since / draw.diffusionTime_s).squareRoot())
        return draw.bulkResistance_Ohm_cm2 * bulkDrift * density / 1000 + steady * build + diffusion
            + nucleation_V(since: since)
    }

    /// Overpotential of both interfaces and the plating side's concentration term at steady state, V.
    private func steadyInterfaces(_ density: Double) -> Double {
        let plating = overpotential(
            density, exchange: draw.workingExchange_mA_cm2, forward: draw.cathodicAlpha, backward: draw.anodicAlpha)
        let stripping = overpotential(
            density, exchange: draw.counterExchange_mA_cm2, forward: draw.anodicAlpha, backward: draw.cathodicAlpha)
        let utilisation = min(density / draw.limitingCurrent_mA_cm2, 0.9)
        let concentration = -thermalVoltage_V * log(1 - utilisation)
        return (plating + stripping + concentration) * interfaceDrift
    }

    /// The working electrode's share of |V| (for WE-RE): a little electrolyte and its own interface.
    private func workingPart(ionicDensity density: Double, since: Double) -> Double {
        guard density > 0 else { return 0 }
        let interface = overpotential(
            density, exchange: draw.workingExchange_mA_cm2, forward: draw.cathodicAlpha, backward: draw.anodicAlpha)
        let build = 1 - exp(-since / draw.doubleLayerTime_s)
        let nucleation = platingElectrode == 0 ? nucleation_V(since: since) : 0
        return 0.03 * draw.bulkResistance_Ohm_cm2 * density / 1000 + interface * interfaceDrift * build + nucleation
    }

    /// Butler-Volmer overpotential magnitude for a current density: solves
    /// `density = i0 (exp(forward eta / Vt) - exp(-backward eta / Vt))` by Newton's method from the right.
    private func overpotential(_ density: Double, exchange: Double, forward: Double, backward: Double) -> Double {
        let scaledForward = forward / thermalVoltage_V
        let scaledBackward = backward / thermalVoltage_V
        var eta = max(
            density / (exchange * (scaledForward + scaledBackward)), log(density / exchange + 1) / scaledForward)
        for _ in 0..<40 {
            let up = exp(scaledForward * eta)
            let down = exp(-scaledBackward * eta)
            let residual = exchange * (up - down) - density
            let slope = exchange * (scaledForward * up + scaledBackward * down)
            let step = residual / slope
            eta -= step
            if abs(step) < 1e-13 { break }
        }
        return max(0, eta)
    }

    private mutating func remember(ionicDensity density: Double, since: Double, sign: Double) {
        guard stepCurrent_A != 0 else {
            latestFast_V = leftFast_V * exp(-since / draw.doubleLayerTime_s)
            latestDiffusion_V = leftDiffusion_V / (1 + since / draw.diffusionTime_s).squareRoot()
            return
        }
        let steady = steadyInterfaces(density)
        let build = 1 - exp(-since / draw.doubleLayerTime_s)
        let diffusion = draw.diffusionShare * steady * (1 - 1 / (1 + since / draw.diffusionTime_s).squareRoot())
        latestFast_V = sign * steady * build + leftFast_V * exp(-since / draw.doubleLayerTime_s)
        latestDiffusion_V = sign * diffusion + leftDiffusion_V / (1 + since / draw.diffusionTime_s).squareRoot()
    }

    // MARK: - Short

    private mutating func startShortIfDue(density: Double, current_A: Double, interval_s: Double) {
        guard
            let onset = schedule.beginsDuring(
                interval_s: interval_s, endingAt: time_s, density: density, current_A: current_A)
        else { return }
        short = KineticShort(
            shape: options.shortShape, onset_s: onset,
            level_V: healthyMagnitude(ionicDensity: density, since: onset - stepStart_s), random: &random)
    }

    /// The ionic share of the applied current density when a conductance (mA/cm2 per V) shorts the cell: the
    /// current divides so that the short carries `conductance x V(ionic)`; solved by bisection.
    private func ionicDensity(applied: Double, conductance: Double, since: Double) -> Double {
        var low = 0.0
        var high = applied
        for _ in 0..<32 {
            let middle = (low + high) / 2
            let diverted = conductance * healthyMagnitude(ionicDensity: middle, since: since)
            if applied - middle - diverted > 0 { low = middle } else { high = middle }
        }
        return (low + high) / 2
    }

    // MARK: - Noise

    private mutating func disturbance(level: Double, interval_s: Double) -> Double {
        var value = draw.whiteNoise_V * random.normal() + draw.proportionalNoise * level * random.normal()
        // 1/f: Voss-McCartney, row k redrawn every 2^k samples.
        let row = sampleIndex == 0 ? 0 : sampleIndex.trailingZeroBitCount
        if row < pinkRows.count {
            pinkSum -= pinkRows[row]
            pinkRows[row] = random.normal()
            pinkSum += pinkRows[row]
        }
        value += draw.pinkNoise_V * (pinkSum + random.normal()) / Double(pinkRows.count + 1).squareRoot()
        if draw.telegraph_V > 0 {
            if random.chance(1 - exp(-draw.telegraphRate_per_s * interval_s)) { telegraphHigh.toggle() }
            value += telegraphHigh ? draw.telegraph_V / 2 : -draw.telegraph_V / 2
        }
        if burstLeft == 0, random.chance(draw.burstProbability) { burstLeft = 2 + random.index(5) }
        if burstLeft > 0 {
            burstLeft -= 1
            value += random.sign() * random.logUniform(draw.glitchSmallest_V...draw.glitchLargest_V)
        } else if random.chance(draw.glitchProbability) {
            value += random.sign() * random.logUniform(draw.glitchSmallest_V...draw.glitchLargest_V)
        }
        return value
    }
}

/// How far a short has pulled |V| below the healthy cell's, as a share of it, over time: one process per shape.
struct KineticShort: Sendable {
    let shape: ShortShape
    let onset_s: Double
    // abrupt
    private var depth = 0.0
    private var wander = 0.0
    // slow
    private var finalFall = 0.0
    private var fallTime_s = 0.0
    // soft
    private var pulseDrop = 0.0
    private var pulseDuration_s = 0.0
    private var meanGap_s = 0.0
    private var retained = 0.0
    private var baseline = 0.0
    private var pulseStart_s = 0.0
    private var nextPulse_s = 0.0
    private var pulseRetained = true
    // noisy
    private var largest = 0.0
    private var growth_s = 0.0
    private var flickerTime_s = 0.0
    private var flicker = 0.0
    private var latest_s: Double

    init(shape: ShortShape, onset_s: Double, level_V: Double, random: inout TraceRandom) {
        self.shape = shape
        self.onset_s = onset_s
        latest_s = onset_s
        switch shape {
        case .abrupt:
            depth = random.uniform(0.3...0.97)
        case .slow:
            finalFall = random.uniform(0.8...0.995)
            fallTime_s = random.uniform(20...300)
        case .soft:
            // Drops of 4-6 mV as often as drops of 5-30 %, never more than 60 % of |V|.
            let absolute = random.uniform(0.004...0.006) / max(level_V, 1e-6)
            pulseDrop = min(0.6, random.chance(0.5) ? absolute : random.uniform(0.05...0.3))
            pulseDuration_s = random.logUniform(0.3...20)
            meanGap_s = random.uniform(5...60)
            retained = random.uniform(0.1...0.5)
            pulseStart_s = onset_s
            nextPulse_s = onset_s
        case .noisy:
            largest = random.uniform(0.05...0.4)
            growth_s = random.uniform(10...180)
            flickerTime_s = random.logUniform(0.3...5)
        }
    }

    /// The share of |V| the short removes at `time_s`, in [0, 0.995].
    mutating func fall(at time_s: Double, random: inout TraceRandom) -> Double {
        let step = max(0, time_s - latest_s)
        latest_s = time_s
        let since = max(0, time_s - onset_s)
        switch shape {
        case .abrupt:
            wander += (-wander * step / 30) + 0.15 * (step / 15).squareRoot() * random.normal()
            return min(0.995, depth * exp(0.1 * wander))
        case .slow:
            return finalFall * (1 - exp(-since / fallTime_s))
        case .soft:
            while time_s >= nextPulse_s {
                if !pulseRetained { baseline = min(0.9, baseline + retained * pulseDrop) }
                pulseStart_s = nextPulse_s
                pulseRetained = false
                nextPulse_s += pulseDuration_s + random.exponential(mean: meanGap_s)
            }
            let inPulse = time_s - pulseStart_s < pulseDuration_s
            if !inPulse, !pulseRetained {
                // The contact breaks again but not wholly: part of the drop stays.
                baseline = min(0.9, baseline + retained * pulseDrop)
                pulseRetained = true
            }
            return min(0.95, baseline + (inPulse ? pulseDrop : 0))
        case .noisy:
            let keep = exp(-step / flickerTime_s)
            flicker = flicker * keep + (1 - keep * keep).squareRoot() * random.normal()
            let amplitude = largest * (1 - exp(-since / growth_s))
            return min(0.95, amplitude * abs(flicker))
        }
    }
}
