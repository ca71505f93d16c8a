extension ClassActivationMaps {
    /// A failure to explain a prediction: the thing it concerns (a layer, the model's output,
    /// a class, the list of target classes) and what went wrong with the fix.
    public struct CAMError: Error, CustomStringConvertible, Equatable {
        /// What the error concerns (`layer 'block5_pool'`, `class 12`), or empty when `message`
        /// names it itself.
        public var subject: String
        /// What went wrong, and the fix.
        public var message: String

        public init(subject: String = "", _ message: String) {
            self.subject = subject
            self.message = message
        }

        public var description: String { subject.isEmpty ? message : "\(subject): \(message)" }
    }
}
