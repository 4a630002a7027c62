import Foundation

/// The prediction part of ``DendriteShortCriterion``: a bank of ``TransientTrendModel``s (level, trend and two
/// decaying transients with time constants from 0.5 s to 32 s) predicts the next |V| of a watched step; the model in
/// use is the one that has predicted best so far in the run. Samples far off teach the models only a clipped amount,
/// and a few far below teach nothing while a fall is being confirmed.
struct TransientPredictor: Sendable {
    let tuning: ShortDetectionTuning
    private var bank = TransientModelBank()
    private var scores: [Double]
    private var ranking: [Int]
    private var predictedValue: [Double]
    private var predictedLeverage: [Double]
    private var hasPrediction: [Bool]
    private var previousTeachTime_s: Double?
    private var stepStart_s = 0.0
    /// Samples in a row held back from teaching (far below the prediction).
    private var heldInARow = 0

    init(tuning: ShortDetectionTuning) {
        self.tuning = tuning
        let models = TransientModelBank.pairs.count
        scores = [Double](repeating: 0, count: models)
        ranking = Array(0..<models)
        predictedValue = [Double](repeating: 0, count: models)
        predictedLeverage = [Double](repeating: 0, count: models)
        hasPrediction = [Bool](repeating: false, count: models)
    }

    /// A watched step began: the models start afresh (their scores, which say which time constants suit the cell,
    /// carry over).
    mutating func stepStarted(at time_s: Double, trendScale_s: Double) {
        heldInARow = 0
        stepStart_s = time_s
        bank.reset(stepStart_s: time_s, trendScale_s: trendScale_s)
    }

    /// Every live model predicts and learns (a clipped amount when the sample is far off); while the whole bank is
    /// live and determined, each is scored on how well it predicted. Returns the active model's prediction and the
    /// bank's disagreement about this sample.
    mutating func predictAndTeach(
        _ observed: Double, at time_s: Double, noiseLevel: Double, memory_s memory: Double, watchedSteps: Int
    ) -> (prediction: (value: Double, leverage: Double)?, disagreement: Double) {
        bank.prepare(at: time_s)
        var active = 0
        if bank.liveCount == 1 {
            active = bank.isLive.firstIndex(of: true) ?? 0
        } else {
            for index in scores.indices where scores[index] < scores[active] { active = index }
        }
        var comparable = bank.liveCount > 1
        for index in 0..<bank.count {
            if let prediction = bank.predict(index, at: time_s) {
                predictedValue[index] = prediction.value
                predictedLeverage[index] = prediction.leverage
                hasPrediction[index] = true
                if prediction.leverage >= 1 { comparable = false }
            } else {
                hasPrediction[index] = false
                if bank.isLive[index] { comparable = false }
            }
        }
        // The spread of the plausible models' predictions about the active one is uncertainty too: it widens the
        // clip, so the active model can follow the data back, and the allowance, so its extrapolation is not taken
        // for a fall.
        var disagreement_V = 0.0
        if hasPrediction[active], bank.liveCount > 1 {
            rankModels()
            var distances = SmallWindow()
            // Scores say which models are implausible once a watched step has gone by; in the first one all count.
            let plausibleScore =
                watchedSteps > 1
                ? scores[ranking[0]] * tuning.plausibleScoreFactor + tuning.plausibleScoreMargin : .infinity
            for index in ranking.prefix(tuning.plausibleModels)
            where hasPrediction[index] && scores[index] <= plausibleScore {
                distances.push(abs(predictedValue[index] - predictedValue[active]), capacity: 8)
            }
            disagreement_V = distances.upperMedian
        }
        let keep = exp(-max(0, time_s - (previousTeachTime_s ?? time_s)) / memory)
        // A sample far below the active prediction may be the start of a fall: while one is being confirmed (at most
        // `heldSamples` in a row) such samples teach nothing, so the models do not follow the fall they are to find.
        var heldBack = false
        if hasPrediction[active] {
            let spread = noiseLevel * (1 + predictedLeverage[active]).squareRoot()
            let limit = tuning.teachingClip * (spread * spread + disagreement_V * disagreement_V).squareRoot()
            if observed < predictedValue[active] - limit {
                // Once the held samples are spent, the models learn (clipped) until a sample is back near them.
                heldBack = heldInARow < tuning.heldSamples
                heldInARow += 1
            } else {
                heldInARow = 0
            }
        }
        for index in 0..<bank.count where bank.isLive[index] {
            var taught = observed
            if hasPrediction[index] {
                let spread = noiseLevel * (1 + predictedLeverage[index]).squareRoot()
                let standardised = (observed - predictedValue[index]) / spread
                if comparable { scores[index] += min(standardised * standardised, 36) }
                let limit = tuning.teachingClip * (spread * spread + disagreement_V * disagreement_V).squareRoot()
                taught =
                    heldBack
                    ? predictedValue[index]
                    : predictedValue[index] + min(max(observed - predictedValue[index], -limit), limit)
            }
            bank.add(index, time_s: time_s, value: taught, keep: keep)
        }
        bank.finishSample(at: time_s)
        previousTeachTime_s = time_s
        let since = time_s - stepStart_s
        if bank.liveCount > 1, since >= max(tuning.bankHorizon_s, tuning.bankHorizonMemories * memory) {
            bank.keepOnly(active)
        }
        guard hasPrediction[active] else { return (nil, 0) }
        return ((predictedValue[active], predictedLeverage[active]), disagreement_V)
    }

    /// Orders the models by score (best first), in place.
    private mutating func rankModels() {
        for position in 1..<ranking.count {
            let model = ranking[position]
            var slot = position - 1
            while slot >= 0, scores[ranking[slot]] > scores[model] {
                ranking[slot + 1] = ranking[slot]
                slot -= 1
            }
            ranking[slot + 1] = model
        }
    }
}
