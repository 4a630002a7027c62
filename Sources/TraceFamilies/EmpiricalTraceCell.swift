public import Domain
import Foundation

/// The `empirical` trace family: a statistical description of cell traces with no kinetics in it.
///
/// |V| at a current density follows a power law `a j^b + c`. An electrode that starts plating shows a nucleation
/// overpotential that ramps up linearly and decays as a power law `(1 + t/tau)^-p`; after every current change |V|
/// rises hyperbolically towards its level with a rise-then-fall bump `u x / (1 + x^2)` on top, so part of the
/// relaxation is a fall lasting minutes. The level wanders in a mean-reverting random walk and trends linearly either
/// way. Readings carry white noise, second-order autoregressive (coloured) noise, heavy-tailed outliers, bursts in
/// which the instrument repeats its last reading or reads each sample on a wrong scale, and are truncated towards zero at the
/// instrument's resolution. A short multiplies |V| by a factor that steps, ramps, drops in bursts counted in samples,
/// or flickers downward.
public struct EmpiricalTraceCell: TraceCell {
    /// Everything drawn from the seed.
    public struct Draw: Sendable, Hashable {
        public var levelAtOne_V: Double
        public var exponent: Double
        public var offset_V: Double
        public var electrolyteShare: Double
        public var nucleationAtLowCurrent_V: Double
        public var nucleationCurrentExponent: Double
        public var nucleationTime_s: Double
        public var nucleationPower: Double
        public var nucleationRamp_s: Double
        public var repeatNucleationShare: Double
        public var riseDeficit: Double
        public var riseTime_s: Double
        public var bump: Double
        public var bumpTime_s: Double
        public var trendPerHour: Double
        public var wander: Double
        public var wanderTime_s: Double
        public var whiteNoise_V: Double
        public var colouredNoise_V: Double
        public var firstLag: Double
        public var secondLag: Double
        public var outlierProbability: Double
        public var outlierScale_V: Double
        public var stuckProbability: Double
        public var scaledProbability: Double

        init(random: inout TraceRandom, options: TraceCellOptions) {
            levelAtOne_V = random.logUniform(0.005...0.3)
            exponent = random.uniform(0.55...1)
            offset_V = random.uniform(0...5e-4)
            electrolyteShare = random.uniform(0.2...0.8)
            nucleationAtLowCurrent_V = random.logUniform(0.05...0.8)
            nucleationCurrentExponent = random.uniform(0.2...0.9)
            nucleationTime_s = random.logUniform(0.5...30)
            nucleationPower = random.uniform(0.3...1.5)
            nucleationRamp_s = random.uniform(0...3)
            repeatNucleationShare = random.logUniform(0.02...0.3)
            riseDeficit = random.uniform(0...0.6)
            riseTime_s = random.logUniform(0.5...60)
            bump = random.uniform(0...0.25)
            bumpTime_s = random.logUniform(5...300)
            trendPerHour = random.uniform(-0.1...0.1)
            wander = random.uniform(0...0.03)
            wanderTime_s = random.logUniform(600...7200)
            whiteNoise_V = random.logUniform(1e-5...2e-4)
            colouredNoise_V = whiteNoise_V * random.uniform(0...1.5)
            // A stationary second-order process: phi2 in (-1, 0], phi1 below 1 - phi2.
            secondLag = -random.uniform(0...0.7)
            firstLag = random.uniform(0.2...(0.95 * (1 - secondLag)))
            outlierProbability = [0, 3e-4, 2e-3][random.index(3)]
            outlierScale_V = random.logUniform(5e-4...0.01)
            stuckProbability = random.chance(0.5) ? random.logUniform(1e-5...2e-4) : 0
            scaledProbability = random.chance(0.5) ? random.logUniform(1e-5...1e-4) : 0
        }
    }

    public let options: TraceCellOptions
    public let draw: Draw
    public private(set) var time_s = 0.0
    public var shortOnset_s: Double? { schedule.onset_s }
    /// The electrolyte's share of |V| at 1 mA/cm2, as an area resistance.
    public var electrolyteResistance_Ohm_cm2: Double { draw.electrolyteShare * draw.levelAtOne_V * 1000 }

    private var random: TraceRandom
    private var stepCurrent_A = 0.0
    private var stepStart_s = 0.0
    private var platingElectrode: Int?
    private var hasPlated = [false, false]
    private var nucleationAmplitude_V = 0.0
    private var schedule: ShortSchedule
    private var logWander = 0.0
    private var lagged = (0.0, 0.0)
    private var previousReading_V = 0.0
    private var stuckLeft = 0
    private var scaledLeft = 0
    private var short: EmpiricalShort?

    public init(options: TraceCellOptions) {
        self.options = options
        schedule = ShortSchedule(options: options)
        var random = TraceRandom(seed: options.seed, stream: 0x656D_7069_7269_6361)
        draw = Draw(random: &random, options: options)
        self.random = random
    }

    public mutating func advance(by interval_s: Double, current_A: Double) -> InstrumentSample {
        let interval = max(0, interval_s)
        let previousTime = time_s
        time_s += interval
        if current_A != stepCurrent_A { beginStep(current_A: current_A, at: previousTime) }
        let density = abs(current_A) * 1000 / options.area_cm2
        startShortIfDue(density: density, current_A: current_A, interval_s: interval)
        let since = time_s - stepStart_s

        let keep = max(0, 1 - interval / draw.wanderTime_s)
        logWander = logWander * keep + draw.wander * (1 - keep * keep).squareRoot() * random.normal()
        let level = magnitude(density) * exp(logWander) * max(0.3, 1 + draw.trendPerHour * time_s / 3600)
        var value = density > 0 ? level * relaxation(since) + nucleation(since) : 0
        if var process = short, density > 0 {
            value *= process.factor(at: time_s, random: &random)
            short = process
        }
        let sign: Double = current_A < 0 ? -1 : 1
        let voltage = sign * value
        let reading = read(voltage)

        var referenceVoltage: Double?
        if options.threeElectrode {
            let share = 1 - draw.electrolyteShare * 0.9
            referenceVoltage = truncated(
                sign * value * share + draw.whiteNoise_V * random.normal(), resolution: options.voltageResolution_V)
        }
        return InstrumentSample(
            time_s: time_s, current_A: current_A, voltage_V: reading, voltageWERE_V: referenceVoltage)
    }

    // MARK: - Levels and transients

    private func magnitude(_ density: Double) -> Double {
        guard density > 0 else { return 0 }
        return draw.levelAtOne_V * pow(density, draw.exponent) + draw.offset_V
    }

    /// The relaxation after a current change, as a factor on the level: a hyperbolic rise with a bump on top.
    private func relaxation(_ since: Double) -> Double {
        let rise = 1 - draw.riseDeficit / ((1 + since / draw.riseTime_s) * (1 + since / draw.riseTime_s))
        let scaled = since / draw.bumpTime_s
        return rise + draw.bump * scaled / (1 + scaled * scaled)
    }

    private func nucleation(_ since: Double) -> Double {
        guard nucleationAmplitude_V > 0 else { return 0 }
        let ramp = draw.nucleationRamp_s > 0 ? min(1, since / draw.nucleationRamp_s) : 1
        return nucleationAmplitude_V * ramp * pow(1 + since / draw.nucleationTime_s, -draw.nucleationPower)
    }

    private mutating func beginStep(current_A: Double, at time: Double) {
        stepCurrent_A = current_A
        stepStart_s = time
        schedule.stepStarted()
        let plating: Int? = current_A < 0 ? 0 : current_A > 0 ? 1 : nil
        defer { platingElectrode = plating }
        guard let plating else {
            nucleationAmplitude_V = 0
            return
        }
        guard plating != platingElectrode else { return }
        let density = abs(current_A) * 1000 / options.area_cm2
        var amplitude =
            draw.nucleationAtLowCurrent_V * pow(0.05 / max(density, 1e-9), draw.nucleationCurrentExponent)
        if hasPlated[plating] { amplitude *= draw.repeatNucleationShare }
        hasPlated[plating] = true
        nucleationAmplitude_V = min(amplitude, 0.9)
    }

    // MARK: - Short

    private mutating func startShortIfDue(density: Double, current_A: Double, interval_s: Double) {
        guard
            let onset = schedule.beginsDuring(
                interval_s: interval_s, endingAt: time_s, density: density, current_A: current_A)
        else { return }
        short = EmpiricalShort(shape: options.shortShape, onset_s: onset, random: &random)
    }

    // MARK: - The instrument

    private mutating func read(_ voltage: Double) -> Double {
        let (first, second) = lagged
        let coloured = draw.firstLag * first + draw.secondLag * second + random.normal()
        lagged = (coloured, first)
        // Scaled by the AR(2) process's own standard deviation to the drawn amplitude.
        let (phi1, phi2) = (draw.firstLag, draw.secondLag)
        let variance = (1 - phi2) / ((1 + phi2) * ((1 - phi2) * (1 - phi2) - phi1 * phi1))
        var value =
            voltage + draw.whiteNoise_V * random.normal() + draw.colouredNoise_V * coloured / variance.squareRoot()
        if random.chance(draw.outlierProbability) { value += draw.outlierScale_V * random.heavyTailed() }
        if stuckLeft == 0, scaledLeft == 0 {
            if random.chance(draw.stuckProbability) {
                stuckLeft = 2 + random.index(7)
            } else if random.chance(draw.scaledProbability) {
                scaledLeft = 1 + random.index(3)
            }
        }
        if stuckLeft > 0 {
            stuckLeft -= 1
            return previousReading_V
        }
        if scaledLeft > 0 {
            // Each reading of the burst on its own wrong scale: the instrument hunting between ranges.
            scaledLeft -= 1
            value *= random.uniform(0.5...1.5)
        }
        previousReading_V = truncated(value, resolution: options.voltageResolution_V)
        return previousReading_V
    }
}

/// Truncates towards zero at the instrument's resolution, as a converter that drops the digits below it.
func truncated(_ value: Double, resolution: Double) -> Double {
    resolution > 0 ? (value / resolution).rounded(.towardZero) * resolution : value
}

/// The factor an empirical cell's short puts on |V|, sample by sample.
struct EmpiricalShort: Sendable {
    let shape: ShortShape
    let onset_s: Double
    private var remaining = 1.0
    private var jitter = 0.0
    private var ramp_s = 0.0
    private var decelerating = false
    private var drop = 0.0
    private var dropSamples = 0
    private var meanGap = 0.0
    private var keptShare = 0.0
    private var baseline = 1.0
    private var dropLeft = 0
    private var gapLeft = 0
    private var largest = 0.0
    private var growth_s = 0.0

    init(shape: ShortShape, onset_s: Double, random: inout TraceRandom) {
        self.shape = shape
        self.onset_s = onset_s
        switch shape {
        case .abrupt:
            remaining = 1 - random.uniform(0.2...0.95)
            jitter = random.uniform(0.02...0.1)
        case .slow:
            remaining = 1 - random.uniform(0.8...1)
            ramp_s = random.uniform(60...900)
            decelerating = random.chance(0.5)
        case .soft:
            drop = random.uniform(0.05...0.35)
            dropSamples = 1 + random.index(3)
            meanGap = random.uniform(3...20)
            keptShare = random.uniform(0.2...0.7)
            dropLeft = dropSamples
        case .noisy:
            largest = random.uniform(0.05...0.5)
            growth_s = random.uniform(30...600)
        }
    }

    /// The factor for the reading at `time_s`; called once per reading.
    mutating func factor(at time_s: Double, random: inout TraceRandom) -> Double {
        let since = max(0, time_s - onset_s)
        switch shape {
        case .abrupt:
            return max(0.005, remaining * (1 + jitter * random.normal()))
        case .slow:
            let progress = min(1, since / ramp_s)
            let shaped = decelerating ? 1 - (1 - progress) * (1 - progress) : progress
            return 1 - (1 - remaining) * shaped
        case .soft:
            if dropLeft > 0 {
                dropLeft -= 1
                if dropLeft == 0 {
                    baseline *= 1 - keptShare * drop
                    gapLeft = 1 + Int(random.exponential(mean: meanGap))
                }
                return baseline * (1 - drop)
            }
            gapLeft -= 1
            if gapLeft <= 0 { dropLeft = dropSamples }
            return baseline
        case .noisy:
            let amplitude = largest * min(1, since / growth_s)
            return max(0.05, 1 - min(0.9, amplitude * abs(random.heavyTailed())))
        }
    }
}
