import ArgumentParser
import Domain

/// `cellrig criteria`: the stop criteria a protocol's `stop:` list may name, with their parameters.
struct Criteria: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the stop criteria protocols may use, with parameters, units, ranges and defaults.")

    @Flag(help: "Print JSON: an array of criteria, each with its parameters.")
    var json = false

    func run() throws {
        if json { return try printJSON(CriterionCatalogue.all.map(CriterionListing.init)) }
        for spec in CriterionCatalogue.all {
            print("\(spec.name): \(spec.help)")
            if let judged = spec.judges {
                print(
                    "    judges: \(judged.map(\.rawValue).joined(separator: ", ")) steps (not potentiostatic or sweep)")
            }
            for parameter in spec.parameters {
                print("    \(parameter.name) [\(describe(parameter.kind))]\(defaultText(parameter)): \(parameter.help)")
            }
        }
    }

    private func describe(_ kind: ParameterSpec.Kind) -> String {
        switch kind {
        case .quantity(let dimension, let range):
            let unit = dimension.canonicalUnit
            return "\(dimension.phrase), \(formatNumber(range.lowerBound)) to \(formatNumber(range.upperBound)) \(unit)"
        case .word(let words):
            return words.joined(separator: " | ")
        }
    }

    private func defaultText(_ parameter: ParameterSpec) -> String {
        parameter.defaultValue.map { " (default \($0))" } ?? ""
    }
}

/// One criterion as `cellrig criteria --json` lists it.
struct CriterionListing: Encodable {
    /// One parameter: a quantity (with its unit and range) or one of some words.
    struct Parameter: Encodable {
        var name: String
        var help: String
        var dimension: String?
        var unit: String?
        var minimum: Double?
        var maximum: Double?
        var words: [String]?
        var `default`: String?
    }

    var name: String
    var help: String
    var meaning: String?
    var needs: [String]
    var parameters: [Parameter]

    init(_ spec: CriterionSpec) {
        name = spec.name
        help = spec.help
        meaning = spec.meaning
        needs = spec.needs.map(\.rawValue)
        parameters = spec.parameters.map { parameter in
            var listing = Parameter(
                name: parameter.name, help: parameter.help, default: parameter.defaultValue?.description)
            switch parameter.kind {
            case .quantity(let dimension, let range):
                listing.dimension = dimension.rawValue
                listing.unit = dimension.canonicalUnit
                listing.minimum = range.lowerBound
                listing.maximum = range.upperBound
            case .word(let words):
                listing.words = words
            }
            return listing
        }
    }
}
