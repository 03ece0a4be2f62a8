//! [`Node`] trees into Pike VM programs, bounded in size and in the work it takes to unfold them.

use super::{Inst, Node, MAX_COMPILE_STEPS, MAX_INSTRUCTIONS};

const TOO_LARGE: &str = "it compiles to too large a program";

/// The program for `node`, ending in `Match`.
pub(super) fn compile(node: &Node) -> Result<Vec<Inst>, String> {
    let mut compiler = Compiler { program: Vec::new(), steps: 0 };
    compiler.compile(node)?;
    compiler.emit(Inst::Match)?;
    Ok(compiler.program)
}

struct Compiler {
    program: Vec<Inst>,
    /// Nodes visited so far, repetitions unfolded: bounds the time compiling takes.
    steps: usize,
}

impl Compiler {
    fn emit(&mut self, inst: Inst) -> Result<usize, String> {
        if self.program.len() >= MAX_INSTRUCTIONS {
            return Err(format!("{TOO_LARGE} (over {MAX_INSTRUCTIONS} instructions)"));
        }
        self.program.push(inst);
        Ok(self.program.len() - 1)
    }

    fn compile(&mut self, node: &Node) -> Result<(), String> {
        self.steps += 1;
        if self.steps > MAX_COMPILE_STEPS {
            return Err(format!("{TOO_LARGE} (its repetitions unfold too far)"));
        }
        match node {
            Node::Char(c) => self.emit(Inst::Char(*c)).map(drop),
            Node::Any { newline } => self.emit(Inst::Any { newline: *newline }).map(drop),
            Node::Class(class) => self.emit(Inst::Class(class.clone())).map(drop),
            Node::Look(look) => self.emit(Inst::Look(*look)).map(drop),
            Node::Concat(items) => items.iter().try_for_each(|item| self.compile(item)),
            Node::Alternate(branches) => {
                let mut jumps = Vec::new();
                for (i, branch) in branches.iter().enumerate() {
                    if i + 1 == branches.len() {
                        self.compile(branch)?;
                    } else {
                        let split = self.emit(Inst::Split(0, 0))?;
                        self.compile(branch)?;
                        jumps.push(self.emit(Inst::Jump(0))?);
                        self.program[split] = Inst::Split(split + 1, self.program.len());
                    }
                }
                let end = self.program.len();
                for jump in jumps {
                    self.program[jump] = Inst::Jump(end);
                }
                Ok(())
            }
            Node::Repeat { node, min, max } => {
                for _ in 0..*min {
                    self.compile(node)?;
                }
                match max {
                    None => {
                        let split = self.emit(Inst::Split(0, 0))?;
                        self.compile(node)?;
                        self.emit(Inst::Jump(split))?;
                        self.program[split] = Inst::Split(split + 1, self.program.len());
                    }
                    Some(max) => {
                        let mut splits = Vec::new();
                        for _ in *min..*max {
                            splits.push(self.emit(Inst::Split(0, 0))?);
                            self.compile(node)?;
                        }
                        let end = self.program.len();
                        for split in splits {
                            self.program[split] = Inst::Split(split + 1, end);
                        }
                    }
                }
                Ok(())
            }
        }
    }
}
