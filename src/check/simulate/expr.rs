//! A recursive-descent parser, a type check (as `expr.Compile` does against Argo's environment)
//! and an evaluator for the subset of expr-lang that metric conditions use.

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CmpOp {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Num(f64),
    Bool(bool),
    Result,
    Index(Box<Expr>, Box<Expr>),
    Call(Func, Box<Expr>),
    Not(Box<Expr>),
    Neg(Box<Expr>),
    Cmp(CmpOp, Box<Expr>, Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Func {
    Len,
    IsNaN,
    IsInf,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Num(f64),
    Ident(String),
    Op(&'static str),
}

const SUPPORTED: &str = "conditions may use result, result[N], len(result), isNaN(x), isInf(x), numbers, true/false, \
     < <= > >= == !=, && (and), || (or), ! (not), unary - and parentheses";

fn tokenize(src: &str) -> Result<Vec<(usize, Tok)>, String> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let col = i + 1;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c.is_ascii_digit() || (c == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit)) {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                i += 1;
            }
            if i < chars.len() && (chars[i] == 'e' || chars[i] == 'E') {
                let mut j = i + 1;
                if j < chars.len() && (chars[j] == '+' || chars[j] == '-') {
                    j += 1;
                }
                if j < chars.len() && chars[j].is_ascii_digit() {
                    i = j;
                    while i < chars.len() && chars[i].is_ascii_digit() {
                        i += 1;
                    }
                }
            }
            let text: String = chars[start..i].iter().collect();
            let n = text.parse::<f64>().map_err(|_| format!("bad number `{text}` at column {col}"))?;
            out.push((col, Tok::Num(n)));
            continue;
        }
        if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.push((col, Tok::Ident(chars[start..i].iter().collect())));
            continue;
        }
        let next = chars.get(i + 1).copied();
        let (op, len): (&'static str, usize) = match (c, next) {
            ('<', Some('=')) => ("<=", 2),
            ('>', Some('=')) => (">=", 2),
            ('=', Some('=')) => ("==", 2),
            ('!', Some('=')) => ("!=", 2),
            ('&', Some('&')) => ("&&", 2),
            ('|', Some('|')) => ("||", 2),
            ('<', _) => ("<", 1),
            ('>', _) => (">", 1),
            ('!', _) => ("!", 1),
            ('(', _) => ("(", 1),
            (')', _) => (")", 1),
            ('[', _) => ("[", 1),
            (']', _) => ("]", 1),
            ('-', _) => ("-", 1),
            ('=', _) => return Err(format!("`=` at column {col} is not a comparison; use `==`")),
            _ => return Err(format!("unsupported `{c}` at column {col}; {SUPPORTED}")),
        };
        out.push((col, Tok::Op(op)));
        i += len;
    }
    Ok(out)
}

struct Parser {
    toks: Vec<(usize, Tok)>,
    pos: usize,
    end_col: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|(_, t)| t)
    }

    fn col(&self) -> usize {
        self.toks.get(self.pos).map(|(c, _)| *c).unwrap_or(self.end_col)
    }

    fn is_op(&self, op: &str) -> bool {
        matches!(self.peek(), Some(Tok::Op(o)) if *o == op)
    }

    fn is_ident(&self, name: &str) -> bool {
        matches!(self.peek(), Some(Tok::Ident(i)) if i == name)
    }

    fn expect_op(&mut self, op: &str) -> Result<(), String> {
        if self.is_op(op) {
            self.pos += 1;
            Ok(())
        } else {
            Err(format!("expected `{op}` at column {}, found {}", self.col(), self.describe()))
        }
    }

    fn describe(&self) -> String {
        match self.peek() {
            None => "the end of the condition".into(),
            Some(Tok::Num(n)) => format!("`{n}`"),
            Some(Tok::Ident(i)) => format!("`{i}`"),
            Some(Tok::Op(o)) => format!("`{o}`"),
        }
    }

    fn or(&mut self) -> Result<Expr, String> {
        let mut left = self.and()?;
        while self.is_op("||") || self.is_ident("or") {
            self.pos += 1;
            left = Expr::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, String> {
        let mut left = self.comparison()?;
        while self.is_op("&&") || self.is_ident("and") {
            self.pos += 1;
            left = Expr::And(Box::new(left), Box::new(self.comparison()?));
        }
        Ok(left)
    }

    fn comparison(&mut self) -> Result<Expr, String> {
        let mut left = self.unary()?;
        loop {
            let op = match self.peek() {
                Some(Tok::Op("<")) => CmpOp::Lt,
                Some(Tok::Op("<=")) => CmpOp::Le,
                Some(Tok::Op(">")) => CmpOp::Gt,
                Some(Tok::Op(">=")) => CmpOp::Ge,
                Some(Tok::Op("==")) => CmpOp::Eq,
                Some(Tok::Op("!=")) => CmpOp::Ne,
                _ => return Ok(left),
            };
            self.pos += 1;
            left = Expr::Cmp(op, Box::new(left), Box::new(self.unary()?));
        }
    }

    fn unary(&mut self) -> Result<Expr, String> {
        if self.is_op("!") || self.is_ident("not") {
            self.pos += 1;
            return Ok(Expr::Not(Box::new(self.unary()?)));
        }
        if self.is_op("-") {
            self.pos += 1;
            return Ok(match self.unary()? {
                Expr::Num(n) => Expr::Num(-n),
                other => Expr::Neg(Box::new(other)),
            });
        }
        self.postfix()
    }

    fn postfix(&mut self) -> Result<Expr, String> {
        let mut base = self.primary()?;
        while self.is_op("[") {
            self.pos += 1;
            let index = self.or()?;
            self.expect_op("]")?;
            base = Expr::Index(Box::new(base), Box::new(index));
        }
        Ok(base)
    }

    fn primary(&mut self) -> Result<Expr, String> {
        let col = self.col();
        let Some((_, tok)) = self.toks.get(self.pos).cloned() else {
            return Err(format!("unexpected end of the condition at column {col}"));
        };
        self.pos += 1;
        match tok {
            Tok::Num(n) => Ok(Expr::Num(n)),
            Tok::Op("(") => {
                let inner = self.or()?;
                self.expect_op(")")?;
                Ok(inner)
            }
            Tok::Op(op) => Err(format!("unexpected `{op}` at column {col}")),
            Tok::Ident(name) => match name.as_str() {
                "result" => Ok(Expr::Result),
                "true" => Ok(Expr::Bool(true)),
                "false" => Ok(Expr::Bool(false)),
                "len" | "isNaN" | "isInf" => {
                    let func = match name.as_str() {
                        "len" => Func::Len,
                        "isNaN" => Func::IsNaN,
                        _ => Func::IsInf,
                    };
                    self.expect_op("(")?;
                    let arg = self.or()?;
                    self.expect_op(")")?;
                    Ok(Expr::Call(func, Box::new(arg)))
                }
                other => Err(format!("unknown name `{other}` at column {col}; {SUPPORTED}")),
            },
        }
    }
}

pub fn parse(src: &str) -> Result<Expr, String> {
    let toks = tokenize(src)?;
    if toks.is_empty() {
        return Err("the condition is empty".into());
    }
    let mut parser = Parser { toks, pos: 0, end_col: src.chars().count() + 1 };
    let expr = parser.or()?;
    if parser.pos < parser.toks.len() {
        return Err(format!("unexpected {} at column {}", parser.describe(), parser.col()));
    }
    Ok(expr)
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Ty {
    Num,
    Bool,
    /// `result`: a vector that also stands for its single value where a number is expected.
    Result,
}

fn ty_name(ty: Ty) -> &'static str {
    match ty {
        Ty::Num => "a number",
        Ty::Bool => "a bool",
        Ty::Result => "`result`",
    }
}

fn numeric(ty: Ty, what: &str) -> Result<(), String> {
    match ty {
        Ty::Num | Ty::Result => Ok(()),
        Ty::Bool => Err(format!("{what} needs a number, got a bool")),
    }
}

fn boolean(ty: Ty, what: &str) -> Result<(), String> {
    match ty {
        Ty::Bool => Ok(()),
        other => Err(format!("{what} needs a bool, got {}", ty_name(other))),
    }
}

fn check(e: &Expr) -> Result<Ty, String> {
    Ok(match e {
        Expr::Num(_) => Ty::Num,
        Expr::Bool(_) => Ty::Bool,
        Expr::Result => Ty::Result,
        Expr::Index(base, index) => {
            if check(base)? != Ty::Result {
                return Err("only `result` can be indexed".into());
            }
            numeric(check(index)?, "an index")?;
            Ty::Num
        }
        Expr::Call(Func::Len, arg) => {
            if check(arg)? != Ty::Result {
                return Err("len() takes `result`".into());
            }
            Ty::Num
        }
        Expr::Call(func, arg) => {
            numeric(check(arg)?, if *func == Func::IsNaN { "isNaN()" } else { "isInf()" })?;
            Ty::Bool
        }
        Expr::Not(inner) => {
            boolean(check(inner)?, "`!`")?;
            Ty::Bool
        }
        Expr::Neg(inner) => {
            numeric(check(inner)?, "unary `-`")?;
            Ty::Num
        }
        Expr::Cmp(op, a, b) => {
            let (a, b) = (check(a)?, check(b)?);
            let both_bool = a == Ty::Bool && b == Ty::Bool;
            if both_bool && matches!(op, CmpOp::Eq | CmpOp::Ne) {
                return Ok(Ty::Bool);
            }
            if a == Ty::Bool || b == Ty::Bool {
                return Err(format!("cannot compare {} with {}", ty_name(a), ty_name(b)));
            }
            Ty::Bool
        }
        Expr::And(a, b) | Expr::Or(a, b) => {
            let what = if matches!(e, Expr::And(..)) { "`&&`" } else { "`||`" };
            boolean(check(a)?, what)?;
            boolean(check(b)?, what)?;
            Ty::Bool
        }
    })
}

/// Parses and type-checks a condition; it must produce a bool.
pub fn compile(src: &str) -> Result<Expr, String> {
    let expr = parse(src)?;
    match check(&expr)? {
        Ty::Bool => Ok(expr),
        other => Err(format!("a condition must be true or false, but this is {}", ty_name(other))),
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Val<'a> {
    Num(f64),
    Bool(bool),
    Vec(&'a [f64]),
}

fn num(v: Val<'_>) -> Result<f64, String> {
    match v {
        Val::Num(n) => Ok(n),
        Val::Vec([one]) => Ok(*one),
        Val::Vec([]) => Err("`result` is empty (no data)".into()),
        Val::Vec(many) => Err(format!("`result` has {} values; index it", many.len())),
        Val::Bool(_) => Err("expected a number, got a bool".into()),
    }
}

fn boolean_val(v: Val<'_>) -> Result<bool, String> {
    match v {
        Val::Bool(b) => Ok(b),
        _ => Err("expected a bool".into()),
    }
}

fn eval<'a>(e: &Expr, result: &'a [f64]) -> Result<Val<'a>, String> {
    Ok(match e {
        Expr::Num(n) => Val::Num(*n),
        Expr::Bool(b) => Val::Bool(*b),
        Expr::Result => Val::Vec(result),
        Expr::Index(base, index) => {
            let Val::Vec(items) = eval(base, result)? else { return Err("only `result` can be indexed".into()) };
            let i = num(eval(index, result)?)?;
            if i.fract() != 0.0 || !i.is_finite() {
                return Err(format!("index {i} is not a whole number"));
            }
            let len = items.len() as f64;
            let at = if i < 0.0 { len + i } else { i };
            if at < 0.0 || at >= len {
                let no_data = if items.is_empty() { " (no data)" } else { "" };
                return Err(format!("index out of range: result[{i}] of {} value(s){no_data}", items.len()));
            }
            Val::Num(items[at as usize])
        }
        Expr::Call(Func::Len, arg) => match eval(arg, result)? {
            Val::Vec(items) => Val::Num(items.len() as f64),
            _ => return Err("len() takes `result`".into()),
        },
        Expr::Call(Func::IsNaN, arg) => Val::Bool(num(eval(arg, result)?)?.is_nan()),
        Expr::Call(Func::IsInf, arg) => Val::Bool(num(eval(arg, result)?)?.is_infinite()),
        Expr::Not(inner) => Val::Bool(!boolean_val(eval(inner, result)?)?),
        Expr::Neg(inner) => Val::Num(-num(eval(inner, result)?)?),
        Expr::Cmp(op, a, b) => {
            let (a, b) = (eval(a, result)?, eval(b, result)?);
            if let (Val::Bool(x), Val::Bool(y)) = (a, b) {
                return match op {
                    CmpOp::Eq => Ok(Val::Bool(x == y)),
                    CmpOp::Ne => Ok(Val::Bool(x != y)),
                    _ => Err("cannot order bools".into()),
                };
            }
            // IEEE comparisons: anything compared with NaN is false (and != is true).
            let (x, y) = (num(a)?, num(b)?);
            Val::Bool(match op {
                CmpOp::Lt => x < y,
                CmpOp::Le => x <= y,
                CmpOp::Gt => x > y,
                CmpOp::Ge => x >= y,
                CmpOp::Eq => x == y,
                CmpOp::Ne => x != y,
            })
        }
        // Short-circuit, as expr does: `len(result) > 0 && result[0] < 1` is false, not an
        // error, when there is no data.
        Expr::And(a, b) => Val::Bool(boolean_val(eval(a, result)?)? && boolean_val(eval(b, result)?)?),
        Expr::Or(a, b) => Val::Bool(boolean_val(eval(a, result)?)? || boolean_val(eval(b, result)?)?),
    })
}

/// Evaluates a compiled condition against a measurement's result vector.
pub fn eval_condition(e: &Expr, result: &[f64]) -> Result<bool, String> {
    boolean_val(eval(e, result)?)
}

#[cfg(test)]
pub fn eval_text(src: &str, result: &[f64]) -> Result<bool, String> {
    eval_condition(&compile(src)?, result)
}

#[cfg(test)]
mod tests {
    use crate::check::simulate::expr;

    #[test]
    fn evaluator_handles_the_supported_grammar() {
        let t = |src: &str, result: &[f64]| expr::eval_text(src, result).unwrap_or_else(|e| panic!("{src}: {e}"));
        assert!(t("result[0] <= 0.01", &[0.01]));
        assert!(!t("result[0] <= 0.01", &[0.0101]));
        assert!(t("result <= 0.01", &[0.004]), "result stands for its single value");
        assert!(t("result[0] >= 0.95 && result[0] < 1", &[0.97]));
        assert!(t("result[0] > 5 || result[0] == 1", &[1.0]));
        assert!(t("!(result[0] > 1)", &[0.5]));
        assert!(t("not (result[0] > 1) and true", &[0.5]));
        assert!(t("result[0] != 2", &[1.0]));
        assert!(t("result[0] > -1e-3", &[0.0]));
        assert!(t("result[-1] == 3", &[3.0]));
        assert!(t("len(result) == 1", &[3.0]));
        assert!(t("len(result) == 0", &[]));
        assert!(t("isNaN(result[0])", &[f64::NAN]));
        assert!(t("isInf(result[0])", &[f64::INFINITY]));
        assert!(t("(true == true) != false", &[]));
        // Precedence: && binds tighter than ||.
        assert!(t("true || false && false", &[]));
        assert!(!t("(true || false) && false", &[]));
    }

    #[test]
    fn nan_compares_false_and_empty_results_error() {
        assert!(!expr::eval_text("result[0] <= 0.01", &[f64::NAN]).unwrap());
        assert!(!expr::eval_text("result[0] > 0.01", &[f64::NAN]).unwrap());
        assert!(expr::eval_text("result[0] != 0.01", &[f64::NAN]).unwrap());
        let err = expr::eval_text("result[0] <= 0.01", &[]).unwrap_err();
        assert!(err.contains("index out of range") && err.contains("no data"), "{err}");
        assert!(expr::eval_text("result <= 0.01", &[]).unwrap_err().contains("no data"));
        // Short-circuiting keeps a guarded condition from erroring.
        assert!(!expr::eval_text("len(result) > 0 && result[0] < 1", &[]).unwrap());
    }

    #[test]
    fn evaluator_rejects_what_it_does_not_support() {
        let err = |src: &str| expr::compile(src).unwrap_err();
        assert!(err("result[0] + 1 > 2").contains("unsupported `+` at column 11"), "{}", err("result[0] + 1 > 2"));
        assert!(err("asFloat(result) > 1").contains("unknown name `asFloat`"));
        assert!(err("result[0] = 1").contains("use `==`"));
        assert!(err("result[0] <= ").contains("unexpected end"));
        assert!(err("(result[0] <= 1").contains("expected `)`"));
        assert!(err("result[0] <= 1 2").contains("unexpected `2`"));
        assert!(err("result[0]").contains("must be true or false"));
        assert!(err("result[0] && true").contains("needs a bool"));
        assert!(err("true < false").contains("cannot compare"));
        assert!(err("len(1) > 0").contains("len() takes `result`"));
        assert!(err("result.value > 1").contains("unsupported `.`"));
        assert!(err("").contains("empty"));
    }
}
